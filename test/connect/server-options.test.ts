// What createServer offers beside connectNodeAdapter's routes (issue 19 item 6): bind
// errors that name the URL, maxTimeoutMs, contextValues, requestPathPrefix refused.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";

import { createServer } from "../../src/index.js";
import { ServerLog, marketRoutes } from "./market-service.js";

const routes = marketRoutes(new ServerLog());

describe.each(["net", "auto"] as const)("bind errors (engine %s)", (engine) => {
  it("a second listen on the same tcp port names the URL and keeps the code", async () => {
    const first = createServer({ routes, engine });
    onTestFinished(() => first.close());
    const url = await first.listen("tcp://127.0.0.1:0");
    const second = createServer({ routes, engine });
    onTestFinished(() => second.close());
    const error = await second.listen(url).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error?.message).toBe(`bind ${url} failed: Address already in use (EADDRINUSE)`);
    expect(error?.code).toBe("EADDRINUSE");
  });

  it("a stale unix socket file: the error says to remove it or pass another path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "connect-rdma-stale-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "left-by-killed-server.sock");
    writeFileSync(path, "");
    const server = createServer({ routes, engine });
    onTestFinished(() => server.close());
    const error = await server.listen(`unix://${path}`).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error?.code).toBe("EADDRINUSE");
    expect(error?.message).toMatch(new RegExp(`^bind unix://${path} failed: Address already in use \\(EADDRINUSE\\);`));
    expect(error?.message).toContain("remove the stale socket file, or pass another path");
  });
});
