// releaseWhenIdle (src/frame/idle-release.ts): a session asked for many times is checked
// once, within RELEASE_CHECK_MS and after the current turn's work; asked again later, it
// is checked again; a session asking again while checked waits for the next timer.
import { describe, expect, it } from "vitest";
import { RELEASE_CHECK_MS, releaseWhenIdle } from "../../src/frame/idle-release.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("releaseWhenIdle", () => {
  it("checks each session once however often it asked, after the turn's synchronous work and immediates", async () => {
    const log: string[] = [];
    const a = { releaseIfIdle: () => log.push("a") };
    const b = { releaseIfIdle: () => log.push("b") };
    releaseWhenIdle(a);
    releaseWhenIdle(b);
    releaseWhenIdle(a);
    log.push("sync");
    await new Promise((resolve) => setImmediate(resolve));
    log.push("immediate");
    await sleep(RELEASE_CHECK_MS + 5);
    expect(log).toEqual(["sync", "immediate", "a", "b"]);
    releaseWhenIdle(a);
    await sleep(RELEASE_CHECK_MS + 5);
    expect(log).toEqual(["sync", "immediate", "a", "b", "a"]);
  });

  it("a session asking again while it is checked is checked by a later timer, not in a loop", async () => {
    let checks = 0;
    const session = {
      releaseIfIdle: () => {
        if (++checks < 3) releaseWhenIdle(session);
      },
    };
    releaseWhenIdle(session);
    await sleep(RELEASE_CHECK_MS + 5);
    expect(checks).toBeGreaterThanOrEqual(1);
    await sleep(50);
    expect(checks).toBe(3);
  });
});
