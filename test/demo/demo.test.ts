// `npm start` (demo/main.js) runs to the end: every RPC kind, the latency comparison and
// the counters, exit code 0 — on io_uring where this machine has it, and on the
// node:net fallback. The demo runs the compiled package (dist/), like a user would.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { requireDist, root } from "../channel/support/processes.js";

function runDemo(env: Record<string, string> = {}): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ["demo/main.js"], { cwd: root, env: { ...process.env, ...env }, encoding: "utf8", timeout: 40_000 });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

describe("npm start (the demo)", () => {
  for (const [name, env] of [["auto engine", {}], ["node:net fallback", { CONNECT_RDMA_ENGINE: "net" }]] as const) {
    it(`completes with exit code 0: ${name}`, () => {
      requireDist(["index", "connect", "frame", "channel", "region", "binding", "errors", "capabilities"]);
      const { status, out } = runDemo(env);
      expect(out).not.toContain("DEMO FAILED");
      expect(status).toBe(0);
      for (const step of ["Unary calls:", "Server streaming:", "Client streaming:", "Bidi streaming:", "connect-node HTTP/2", "Counters of connect-rdma", "OK: every RPC kind"]) {
        expect(out).toContain(step);
      }
      if (env && "CONNECT_RDMA_ENGINE" in env) expect(out).toContain("engine net");
    });
  }
});
