// Safe defaults (docs/SECURITY.md, "Who may reach a server"): a server listening where
// other hosts can reach it (a non-loopback tcp:// address of this machine, or 0.0.0.0)
// with neither `auth` nor `tls` emits one CONNECT_RDMA_UNPROTECTED warning at listen;
// loopback, unix:// and `allowUnprotected: true` do not warn, nor does a server carrying
// an `auth` or `tls` option (read as the options that define them will pass them).
import { networkInterfaces } from "node:os";
import { describe, expect, it, onTestFinished } from "vitest";

import { createServer } from "../../src/index.js";
import type { ServerOptions } from "../../src/index.js";
import { UNPROTECTED_WARNING, isExposed } from "../../src/connect/unprotected-warning.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { makeTestPkis, opensslUnavailable } from "../support/tls-certs.js";

/** A non-loopback IPv4 address of this machine, or 0.0.0.0 (every interface) where it has none. */
function exposedHost(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "0.0.0.0";
}

/** The CONNECT_RDMA_UNPROTECTED warnings emitted while `run` listens (emitWarning delivers on a later tick). */
async function warningsOf(options: Partial<ServerOptions>, urls: string[]): Promise<Error[]> {
  const seen: Error[] = [];
  const onWarning = (w: Error & { code?: string }): void => {
    if (w.code === UNPROTECTED_WARNING) seen.push(w);
  };
  process.on("warning", onWarning);
  onTestFinished(() => void process.off("warning", onWarning));
  const server = createServer({ engine: "net", ...options, routes: () => undefined });
  onTestFinished(() => server.close(0));
  for (const url of urls) await server.listen(url);
  await new Promise((resolve) => setTimeout(resolve, 20));
  return seen;
}

describe("the unprotected-listen warning", () => {
  const host = exposedHost();

  it(`warns once for a server on a non-loopback address (${host}), naming the URL`, async () => {
    const seen = await warningsOf({}, [`tcp://${host}:0`, `tcp://${host}:0`, "tcp://0.0.0.0:0"]);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.message).toMatch(new RegExp(`listens on tcp://${host.replace(/\./g, "\\.")}:\\d+, reachable from other hosts, with neither auth nor tls`));
  });

  it("0.0.0.0 (every interface) counts as reachable", async () => {
    expect(await warningsOf({}, ["tcp://0.0.0.0:0"])).toHaveLength(1);
  });

  it("no warning on loopback or a unix socket, with allowUnprotected, or with auth or tls", async () => {
    expect(await warningsOf({}, ["tcp://127.0.0.1:0", "tcp://[::1]:0"])).toHaveLength(0);
    expect(await warningsOf({ allowUnprotected: true }, [`tcp://${host}:0`])).toHaveLength(0);
    expect(await warningsOf({ auth: { keys: { k1: new Uint8Array(32).fill(7) } } }, [`tcp://${host}:0`])).toHaveLength(0);
  });

  it("isExposed: which URLs other hosts may reach", () => {
    for (const url of ["tcp://0.0.0.0:1", "tcp://[::]:1", "tcp://10.0.0.2:1", "rdma://192.168.1.5:1", "tcp://example.com:1"]) expect(isExposed(url), url).toBe(true);
    for (const url of ["tcp://127.0.0.1:1", "tcp://127.1.2.3:1", "tcp://[::1]:1", "tcp://localhost:1", "tcp://[::ffff:127.0.0.1]:1", "unix:///tmp/x.sock", "shm:///tmp/x.sock", "memory://x"]) {
      expect(isExposed(url), url).toBe(false);
    }
  });
});

gatedDescribe("the unprotected-listen warning with tls", opensslUnavailable(), () => {
  it("a TLS server on a reachable address does not warn", async () => {
    const { trusted } = makeTestPkis();
    expect(await warningsOf({ tls: { key: trusted.server.key, cert: trusted.server.cert } }, ["tcp://0.0.0.0:0"])).toHaveLength(0);
  });
});
