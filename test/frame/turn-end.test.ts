// atTurnEnd (src/frame/turn-end.ts): a task asked for many times in one loop turn runs
// once, after the turn's other work, and a task asked for again later runs again.
import { describe, expect, it } from "vitest";
import { atTurnEnd } from "../../src/frame/turn-end.js";

describe("atTurnEnd", () => {
  it("runs a task once per turn however often it is asked, after the turn's synchronous work and microtasks", async () => {
    const log: string[] = [];
    const a = { runAtTurnEnd: () => log.push("a") };
    const b = { runAtTurnEnd: () => log.push("b") };
    atTurnEnd(a);
    atTurnEnd(b);
    atTurnEnd(a);
    queueMicrotask(() => log.push("microtask"));
    log.push("sync");
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(["sync", "microtask", "a", "b"]);
    atTurnEnd(a);
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(["sync", "microtask", "a", "b", "a"]);
  });

  it("a task that asks again while running runs in a later turn, not in a loop", async () => {
    let runs = 0;
    const task = {
      runAtTurnEnd: () => {
        if (++runs < 3) atTurnEnd(task);
      },
    };
    atTurnEnd(task);
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(runs).toBe(3);
  });
});
