// Lifetime tests of regions and engines (DESIGN §4), each scenario in its own child
// process (test/fixtures/lifetime.js) so that a crash (V8 abort, SIGSEGV on freed
// memory) fails one test instead of taking vitest down: close with leases outstanding,
// use after close, double close, the GC finalizer, a worker thread, and process exit at
// each lifecycle step. Runs for the net engine and, where io_uring is available, the
// io_uring engine (skipped with the reason printed; a failure under CI=true).

import { describe, expect, it } from "vitest";
import { uringUnavailable } from "../channel/engines.js";
import { Fixture, requireDist } from "../channel/support/processes.js";

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Record<string, unknown>[];
  stderr: string;
}

async function run(scenario: string, engine: string, step?: string): Promise<Run> {
  const fixture = new Fixture("lifetime.js", [scenario, engine, ...(step ? [step] : [])], ["--expose-gc"]);
  const { code, signal } = await fixture.exit(20_000);
  return { code, signal, lines: fixture.lines as Record<string, unknown>[], stderr: fixture.stderr.join("") };
}

/** Asserts a clean exit (no crash signal) and returns the merged JSON lines. */
function clean(result: Run, expectedCode = 0): Record<string, unknown> {
  expect({ code: result.code, signal: result.signal, stderr: expectedCode === 0 ? result.stderr : "" }).toEqual({
    code: expectedCode,
    signal: null,
    stderr: "",
  });
  return Object.assign({}, ...result.lines);
}

const engines: { engine: "net" | "uring"; unavailable?: string }[] = [
  { engine: "net" },
  { engine: "uring", unavailable: uringUnavailable() },
];

for (const { engine, unavailable } of engines) {
  if (unavailable !== undefined && process.env.CI !== "true") {
    console.warn(`[skip] lifetimes (${engine}): ${unavailable}`);
    describe.skip(`lifetimes (${engine}) (skipped: ${unavailable})`, () => {
      it("needs the capability", () => undefined);
    });
    continue;
  }

  describe(`lifetimes (${engine}), each in a child process`, () => {
    it("has what it needs", () => {
      expect(unavailable, "CI=true: a missing capability is a failure").toBeUndefined();
      requireDist(["channel", "region", "binding", "errors"]);
    });

    it("close with leases outstanding: views read length 0, release() stays harmless", async () => {
      const out = clean(await run("close-with-leases", engine));
      expect(out).toMatchObject({
        leaseBytes: 0,
        view: 0,
        buffer: 0,
        released: false,
        releasedAfterClose: true,
        engineLeaseBytes: 0,
        regionClosed: true,
        done: true,
      });
    });

    it("use after close: coded errors or empty views, no crash", async () => {
      const out = clean(await run("use-after-close", engine));
      expect(out).toMatchObject({
        allocate: "ERR_REGION_CLOSED",
        tryAllocate: "ERR_REGION_CLOSED",
        dataView: "TypeError",
        statsClosed: true,
        staleView: 0,
        staleRead: null,
        staleFill: "TypeError",
        releasedBytes: "ERR_LEASE_RELEASED",
        send: "ERR_CHANNEL_CLOSED",
        channelAllocate: "ERR_CHANNEL_CLOSED",
        connect: "ERR_ENGINE_CLOSED",
        done: true,
      });
    });

    it("double close of a region and an engine is idempotent", async () => {
      expect(clean(await run("double-close", engine))).toMatchObject({ regionClosed: true, engineRegionClosed: true, done: true });
    });

    it("the GC finalizer frees dropped regions; a live view keeps its mapping", async () => {
      const out = clean(await run("gc-finalizer", engine)) as Record<string, number | boolean>;
      const before = out.before as number;
      expect(out).toMatchObject({ during: before + 4, after: before, whileViewAlive: before + 1, viewIntact: true, afterView: before });
    });

    it("an engine in a worker thread: closes cleanly, or is torn down with the worker", async () => {
      const out = clean(await run("worker", engine));
      expect(out).toMatchObject({
        clean: { code: 0, messages: [{ echoed: [1, 2, 3], closed: true }] },
        terminated: { code: 1, ready: true },
        liveRegionsAfter: 0,
        done: true,
      });
    });

    it("a channel closed from a timer after the peer half-closed: the process exits on its own", async () => {
      const result = await run("idle-after-close", engine);
      const out = clean(result);
      expect(out.closedFromTimer).toBe(true);
      expect(out.heldOpen, "the process stayed alive 2 s after the last channel closed").toBeUndefined();
      expect(out.done).toBe(true);
    });

    for (const step of ["region", "leases", "engine", "listener", "connected", "in-flight", "in-onFrame"]) {
      it(`process.exit() with everything up to "${step}" open: exit 0, no crash`, async () => {
        expect(clean(await run("exit-at", engine, step))).toMatchObject({ step, done: true });
      });
    }

    it("an uncaught exception with everything open: exit 1, no crash signal", async () => {
      const result = await run("exit-at", engine, "throw");
      expect(clean(result, 1)).toMatchObject({ step: "throw", done: true });
      expect(result.stderr).toContain("uncaught on purpose");
    });
  });
}
