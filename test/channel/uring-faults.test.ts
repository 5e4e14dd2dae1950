// Failure paths of the io_uring engine that no peer can drive, forced through the addon's
// test-only fault points (native/common/fault_injection.h):
//   - "uring.accept_after_close": the multishot accept's final completion is a successful
//     accept reaped after the listener closed (a full CQ ends a multishot that way): the
//     accepted socket is closed and the listener freed, so `active` returns to 0 (it
//     stayed 1, holding the event loop, when that completion returned early);
//   - "uring.full_sq_submit": the submission queue is full and io_uring_submit keeps
//     failing: Ring::Sqe() retries transient failures, and after about a second gives up
//     with the reason (abort) instead of spinning a core forever; in a child process
//     (test/fixtures/full-sq.js).

import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { native } from "../../src/binding.js";
import { UringEngine } from "../../src/channel/uring-engine.js";
import type { Channel } from "../../src/channel/channel.js";
import { uringUnavailable } from "./engines.js";
import { Fixture, requireDist } from "./support/processes.js";

const unavailable = uringUnavailable();

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe.skipIf(unavailable !== undefined && process.env.CI !== "true")("uring failure paths forced by fault points", () => {
  it("has what it needs", () => {
    expect(unavailable, "CI=true: a missing capability is a failure").toBeUndefined();
    requireDist(["channel", "region", "binding", "errors"]);
  });

  it("a successful final accept after the listener closed frees the listener: active back to 0", async () => {
    const engine = new UringEngine();
    cleanup.push(() => engine.close());
    const accepted: Channel[] = [];
    const listener = await engine.listen("tcp://127.0.0.1:0", (channel) => {
      accepted.push(channel);
      return { onFrame() {}, onClose() {} };
    });
    cleanup.push(() => listener.close());
    expect(engine.stats().active).toBe(1);

    native().faultPoint("uring.accept_after_close", 1);
    cleanup.push(() => native().faultPoint("uring.accept_after_close", 0));
    const port = Number(/:(\d+)$/.exec(listener.url)![1]);
    const client = net.connect(port, "127.0.0.1");
    client.on("error", () => undefined);
    cleanup.push(() => client.destroy());
    const clientClosed = new Promise<void>((resolve) => client.once("close", () => resolve()));

    await clientClosed; // its accepted socket was closed when that completion was reaped, never handed to JS
    expect(native().faultPoint("uring.accept_after_close"), "the accept was reaped as the final one after the close").toBe(1);
    expect(accepted).toHaveLength(0);
    expect(engine.stats().active, "the closed listener is freed by its final completion").toBe(0);
  });

  it("a full SQ whose submit fails a few times (EBUSY) is retried, and every connect goes out", async () => {
    const fixture = new Fixture("full-sq.js", ["3"]);
    try {
      expect(await fixture.line()).toEqual({ armed: true });
      expect(await fixture.line()).toEqual({ connected: 12, fired: 3 });
      expect(await fixture.line()).toEqual({ done: true });
      expect(await fixture.exit()).toEqual({ code: 0, signal: null });
    } finally {
      await fixture.stop();
    }
  });

  it("a full SQ whose submit never succeeds: Ring::Sqe() gives up with the reason instead of spinning", async () => {
    // No core file from the abort (`exec` keeps the fixture's pid for the SIGKILL on timeout).
    const fixture = new Fixture("full-sq.js", ["forever"], [], ["sh", "-c", 'ulimit -c 0 && exec "$@"', "sh"]);
    try {
      expect(await fixture.line()).toEqual({ armed: true });
      // About a second of retries (1000 × 1 ms); the bound is for a spin that never ends.
      const exit = await fixture.exit(30_000);
      const stderr = fixture.stderr.join("");
      expect({ ...exit, stderr }).toEqual({
        code: null,
        signal: "SIGABRT",
        stderr: expect.stringContaining("connect-rdma: io_uring_submit cannot free a submission entry (Device or resource busy after 1001 attempts)"),
      });
      expect(fixture.lines).toHaveLength(1); // no connect completed: the process ended inside Sqe()
    } finally {
      await fixture.stop();
    }
  });
});
