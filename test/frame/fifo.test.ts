// Fifo (src/frame/fifo.ts): order, compaction, drain, and O(1) shift on a large queue
// (a cost ratio between queue sizes, never a time limit).

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

  it("a shift costs about the same in a queue of 1,000,000 as in one of 10,000 (shift is O(1))", () => {
    // A ratio, not a time limit: the same 1,000,000 shifts, from 100 queues of 10,000 items
    // and from one queue of 1,000,000, best of 3 each, interleaved so load on the machine
    // hits both alike. O(1) amortized keeps the ratio between 2 and 15 here (the large
    // queue is out of cache); Array.prototype.shift() moves every element, about 1,000 times slower per
    // shift at 1,000,000 items, so the large drain gives up once it passes the bound.
    const RATIO = 50;
    const drain = (size: number, rounds: number, giveUpAfterMs = Infinity): number => {
      const q = new Fifo<number>();
      let elapsed = 0;
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < size; i++) q.push(i);
        const start = performance.now();
        let sum = 0;
        let shifts = 0;
        while (q.length > 0) {
          sum += q.shift()!;
          if (++shifts % 4096 === 0 && performance.now() - start > giveUpAfterMs) return Infinity;
        }
        elapsed += performance.now() - start;
        if (sum !== (size * (size - 1)) / 2) throw new Error("lost or reordered items");
      }
      return elapsed;
    };
    let small = Infinity;
    let large = Infinity;
    for (let attempt = 0; attempt < 3; attempt++) {
      small = Math.min(small, drain(10_000, 100));
      large = Math.min(large, drain(1_000_000, 1, RATIO * small));
    }
    expect(large / small, `1,000,000 shifts: ${small.toFixed(1)} ms from 100 queues of 10,000, ${large.toFixed(1)} ms from one of 1,000,000`).toBeLessThan(RATIO);
  });
});
