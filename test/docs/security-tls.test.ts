// docs/SECURITY.md's TLS example runs as written (plain node, "connect-rdma" through the
// package's exports map): mutual TLS with PEM files read from pki/ (made here at run time
// by test/support/tls-certs.ts), the handler reading the client certificate's CN.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { requireDist, root } from "../channel/support/processes.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { makeTestPkis, opensslUnavailable } from "../support/tls-certs.js";

const noOpenssl = opensslUnavailable();

gatedDescribe("docs/SECURITY.md", noOpenssl, () => {
  it("the tested TLS code block runs: mutual TLS, the handler sees the client's CN", () => {
    requireDist(["index", "channel", "connect", "capabilities"]);
    const doc = readFileSync(`${root}docs/SECURITY.md`, "utf8");
    const marker = doc.indexOf("<!-- The block below runs in test/docs/security-tls.test.ts. -->");
    expect(marker).toBeGreaterThan(0);
    const code = /```ts\n([\s\S]*?)```/.exec(doc.slice(marker))?.[1];
    expect(code).toBeTruthy();
    const { trusted } = makeTestPkis();
    const cwd = mkdtempSync(join(tmpdir(), "connect-rdma-security-doc-"));
    mkdirSync(join(cwd, "pki"));
    const files = { ca: trusted.ca, server: trusted.server.cert, "server-key": trusted.server.key, client: trusted.client.cert, "client-key": trusted.client.key };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(cwd, "pki", `${name}.pem`), text);
    const dir = `${root}test/.tmp`;
    mkdirSync(dir, { recursive: true });
    const file = `${dir}/security-tls-${process.pid}.mjs`;
    writeFileSync(file, code!.replace("./gen/market/v1/market_pb.js", "../gen/market/v1/market_pb.js"));
    try {
      const out = execFileSync(process.execPath, [file], { cwd, encoding: "utf8", timeout: 30_000 });
      expect(out.trim()).toBe("ACME for trusted client");
    } finally {
      rmSync(file, { force: true });
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
