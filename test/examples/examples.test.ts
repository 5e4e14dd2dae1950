// The examples run as users run them (one command each, server in a child process) over
// io_uring, with small counts, and must report success: exit 0, the engine in use, and
// the numbers they print must add up to what was asked for. Also --help / bad options.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";

import { capabilities } from "../../src/index.js";
import { requireDist, root } from "../channel/support/processes.js";
import { gatedDescribe } from "../support/capability-gate.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function example(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  requireDist(["index", "connect", "channel"]);
  return new Promise((resolve) => {
    execFile(process.execPath, [`${root}examples/${script}`, ...args], { cwd: root, env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

const uring = capabilities().ioUring;

gatedDescribe("examples over io_uring", uring.available ? undefined : `io_uring unavailable: ${uring.reason}`, () => {
  it("market-data: every subscriber gets every quote, in order (fan-out of a shared symbol)", async () => {
    const subscribers = 3;
    const quotes = 120;
    const run = await example("market-data/main.js", ["--subscribers", String(subscribers), "--quotes", String(quotes), "--payload-bytes", "32"], { CONNECT_RDMA_ENGINE: "uring" });
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toMatch(/^server: pid \d+, tcp:\/\/127\.0\.0\.1:\d+, engine uring$/m);
    expect(run.stdout).toContain(`subscribers: ${subscribers} in pid`);
    expect(run.stdout).toContain("engine uring");
    const rows = [...run.stdout.matchAll(/^ {2}(\d+) +(\S+) +(\d+) +(\d+) +/gm)].map((m) => ({ symbols: m[2]!.split(","), quotes: Number(m[3]), gaps: Number(m[4]) }));
    expect(rows).toHaveLength(subscribers);
    for (const row of rows) {
      expect(row).toMatchObject({ quotes, gaps: 0 });
      expect(row.symbols).toContain("ACME");
    }
    expect(run.stdout).toContain(`${subscribers * quotes} quotes in`);
    // Every quote crossed the wire once per subscriber: the server sent them all.
    const serverOut = /^server: +\d+ calls, (\d+) messages out/m.exec(run.stdout);
    expect(Number(serverOut?.[1])).toBeGreaterThanOrEqual(subscribers * quotes);
    expect(run.stdout).toContain("OK: every subscriber got every quote, in order");
  });

  it("order-entry: expected accepts, rejects and cancels; per-method latency tables on both sides", async () => {
    const traders = 2;
    const orders = 40;
    const run = await example("order-entry/main.js", ["--traders", String(traders), "--orders", String(orders)], { CONNECT_RDMA_ENGINE: "uring" });
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toMatch(/engine uring/);
    const rejected = traders * Math.floor(orders / 5);
    expect(run.stdout).toContain(`orders: ${traders * orders - rejected} accepted, ${rejected} rejected on purpose`);
    // The interceptor's rows: client side and server side each have the three methods with the right counts.
    for (const side of [/client side[\s\S]*?\n\n/, /server side[\s\S]*?\n\n/]) {
      const block = side.exec(run.stdout)?.[0] ?? "";
      expect(block).toMatch(new RegExp(`market\\.v1\\.MarketService/GetQuote +${traders * orders} +0 `));
      expect(block).toMatch(new RegExp(`orders\\.v1\\.OrderEntryService/PlaceOrder +${traders * orders} +${rejected} InvalidArgument `));
      expect(block).toMatch(/orders\.v1\.OrderEntryService\/CancelOrder +\d+ +0 /);
    }
    expect(run.stdout).toContain("OK: every order had the expected outcome");
  });

  it("market-data over a Unix socket", async () => {
    const dir = mkdtempSync(`${tmpdir()}/connect-rdma-example-`);
    try {
      const run = await example("market-data/main.js", ["--url", `unix://${dir}/md.sock`, "--subscribers", "2", "--quotes", "50"], { CONNECT_RDMA_ENGINE: "uring" });
      expect(run.code, run.stderr + run.stdout).toBe(0);
      expect(run.stdout).toContain(`unix://${dir}/md.sock, engine uring`);
      expect(run.stdout).toContain("OK:");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("examples: command line", () => {
  it.each(["market-data/main.js", "order-entry/main.js"])("%s --help exits 0; a bad option exits 2", async (script) => {
    const help = await example(script, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--url URL");
    const bad = await example(script, ["--no-such-option"]);
    expect(bad.code).toBe(2);
    const rdmaOnly = await example(script, ["--local", "10.0.0.1"]);
    expect(rdmaOnly.code).toBe(2);
    expect(rdmaOnly.stderr).toContain("--local applies to rdma:// URLs only");
  });
});
