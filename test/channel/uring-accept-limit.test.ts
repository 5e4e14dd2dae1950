// An io_uring listener at the fd limit (RLIMIT_NOFILE lowered for a child process,
// test/fixtures/accept-limit.js): accepting fails with EMFILE, and the engine backs off
// instead of re-arming at once (which spun a core and submitted without end), counts the
// failures in stats, reports the episode once as a process warning, and accepts the
// waiting client once fds are free again.

import * as net from "node:net";
import { describe, expect, it } from "vitest";
import { uringUnavailable } from "./engines.js";
import { Fixture, requireDist } from "./support/processes.js";

const unavailable = uringUnavailable();

describe.skipIf(unavailable !== undefined && process.env.CI !== "true")("uring accept at the fd limit", () => {
  it("has what it needs", () => {
    expect(unavailable, "CI=true: a missing capability is a failure").toBeUndefined();
    requireDist(["channel", "region", "binding", "errors"]);
  });

  it("EMFILE: backs off, counts, warns once, and accepts the waiting client once fds are free", async () => {
    // `exec` keeps the fixture's pid: a SIGKILL on timeout reaches node itself.
    const fixture = new Fixture("accept-limit.js", [], [], ["sh", "-c", 'ulimit -n 128 && exec "$@"', "sh"]);
    try {
      const opened = await fixture.line<{ url: string; filled: number; openError: string }>();
      expect(opened.openError).toBe("EMFILE");
      expect(opened.filled).toBeGreaterThan(0);

      const port = Number(/:(\d+)$/.exec(opened.url)![1]);
      const client = net.connect(port, "127.0.0.1");
      client.on("error", () => undefined);
      const frame = Buffer.from([3, 0, 0, 0, 7, 8, 9]);
      client.write(frame);

      const full = await fixture.line<Record<string, unknown>>();
      expect(full.firstErrorSeen).toBe(true);
      expect(full.acceptedWhileFull).toBe(0);
      // Back-off doubles from 10 ms: a handful of retries in 300 ms, where an immediate
      // re-arm made hundreds of thousands.
      expect(full.acceptErrorsIn300ms as number).toBeLessThanOrEqual(10);
      expect(full.submitsIn300ms as number).toBeLessThanOrEqual(20);
      expect(full.warnings).toEqual([expect.stringContaining("EMFILE")]);

      const resumed = await fixture.line<{ accepted: number; frame: number[] }>();
      expect(resumed).toEqual({ accepted: 1, frame: [7, 8, 9] });
      expect(await fixture.line()).toEqual({ done: true });
      client.destroy();
      expect(await fixture.exit()).toEqual({ code: 0, signal: null });
      expect(fixture.stderr.join("")).not.toMatch(/Error/);
    } finally {
      await fixture.stop();
    }
  });
});
