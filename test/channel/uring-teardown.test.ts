// Teardown of the io_uring engine's native side, each case in its own child process
// (crashes are exit signals there, not a dead vitest worker): a worker thread that alone
// used the addon exits after a clean close, is terminated or exits while frames keep
// arriving, or is terminated / exits from inside onFrame (test/fixtures/worker-teardown.js).
// The main thread never loads the addon, so Node unloads it with the worker: any addon
// code that runs after that (a handle's close callback, a watcher firing, an error built
// while JS is terminating) is a SIGSEGV or an abort.

import { describe, expect, it } from "vitest";
import { uringUnavailable } from "./engines.js";
import { Fixture, requireDist } from "./support/processes.js";

const unavailable = uringUnavailable();

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  out: Record<string, unknown>;
}

async function run(script: string, args: string[], timeoutMs = 20_000): Promise<Outcome> {
  const fixture = new Fixture(script, args);
  const { code, signal } = await fixture.exit(timeoutMs);
  return { code, signal, stderr: fixture.stderr.join(""), out: Object.assign({}, ...(fixture.lines as object[])) };
}

if (unavailable !== undefined && process.env.CI !== "true") {
  console.warn(`[skip] uring teardown: ${unavailable}`);
  describe.skip(`uring teardown (skipped: ${unavailable})`, () => {
    it("needs io_uring", () => undefined);
  });
} else {
  describe("uring teardown, each in a child process", () => {
    it("has what it needs", () => {
      expect(unavailable, "CI=true: a missing capability is a failure").toBeUndefined();
      requireDist(["channel", "region", "binding", "errors"]);
    });

    const cases: [string, string, number, Record<string, unknown>][] = [
      ["alone", "a worker that alone used the engine closes it and exits", 0, { echoed: [1, 2, 3], closed: true }],
      ["terminate-receiving", "worker.terminate() while frames keep arriving", 1, { receiving: true }],
      ["exit-from-timer", "process.exit() from a timer in the worker while frames keep arriving", 3, {}],
      ["terminate-in-onFrame", "worker.terminate() while the worker runs inside onFrame", 1, { inFrame: true }],
      ["exit-in-onFrame", "process.exit() inside onFrame", 4, {}],
    ];
    for (const [scenario, title, workerCode, message] of cases) {
      it(`${title}: no crash, the worker's exit code`, async () => {
        const result = await run("worker-teardown.js", [scenario]);
        expect({ code: result.code, signal: result.signal, stderr: result.stderr }).toEqual({ code: 0, signal: null, stderr: "" });
        const worker = result.out.worker as { code: number; messages: Record<string, unknown>[] };
        expect(worker.code).toBe(workerCode);
        expect(worker.messages).toContainEqual(expect.objectContaining({ url: expect.stringMatching(/^tcp:/) }));
        if (Object.keys(message).length > 0) expect(worker.messages).toContainEqual(message);
        expect(result.out.done).toBe(true);
      });
    }
  });
}
