// Fifo (src/frame/fifo.ts): order, compaction, drain, and O(1) shift on a large queue.

import { describe, expect, it } from "vitest";
import { Fifo } from "../../src/frame/fifo.js";

describe("Fifo", () => {
  it("keeps order across compactions and interleaved push/shift", () => {
    const q = new Fifo<number>();
    const seen: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) q.push(next++);
      for (let i = 0; i < 70; i++) seen.push(q.shift() as number);
    }
    expect(q.length).toBe(50 * 30);
    expect(q.peek()).toBe(seen.length);
    seen.push(...q.drain());
    expect(seen).toEqual(Array.from({ length: next }, (_, i) => i));
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
  });

  it("drains 1,000,000 items quickly (shift is O(1))", () => {
    const q = new Fifo<object>();
    for (let i = 0; i < 1_000_000; i++) q.push({ i });
    const start = performance.now();
    while (q.length > 0) q.shift();
    expect(performance.now() - start).toBeLessThan(1000);
  });
});
