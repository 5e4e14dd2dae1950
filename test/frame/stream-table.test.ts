// StreamTable and LiveSet (src/frame/stream-table.ts, src/frame/live-set.ts): the
// containers a session keeps its streams in and a server / transport its calls in flight.
// Checked against a Map / Set under random churn (colliding ids, wrap-around probe runs,
// growth), and for not holding removed members (a child process with --expose-gc).

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { LiveSet } from "../../src/frame/live-set.js";
import { StreamTable } from "../../src/frame/stream-table.js";

/** A deterministic generator (xorshift32), so a failure reproduces. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

describe("StreamTable", () => {
  it("agrees with a Map under random adds and deletes of colliding ids", () => {
    const next = random(7);
    const table = new StreamTable<{ id: number }>();
    const model = new Map<number, { id: number }>();
    // Ids from a few residues modulo small powers of two, so probe runs form, wrap around
    // the end of the array and get broken up by deletions.
    const pick = (): number => Math.floor(next() * 40) * 64 + [0, 1, 63][Math.floor(next() * 3)]!;
    for (let step = 0; step < 20_000; step++) {
      const id = pick();
      if (model.has(id) && next() < 0.6) {
        expect(table.delete(id)).toBe(true);
        model.delete(id);
      } else if (!model.has(id)) {
        const entry = { id };
        table.add(entry);
        model.set(id, entry);
      } else {
        expect(table.delete(id + 1_000_000)).toBe(false);
      }
      if (step % 97 === 0) {
        for (const [key, entry] of model) expect(table.get(key)).toBe(entry);
        expect(table.get(pick() + 5_000_000)).toBeUndefined();
      }
      expect(table.size).toBe(model.size);
    }
    for (const [key, entry] of model) expect(table.get(key)).toBe(entry);
    expect(table.values()).toEqual([...model.values()].sort((a, b) => a.id - b.id));
  });

  it("keeps sequential ids (how sessions number streams) through growth", () => {
    const table = new StreamTable<{ id: number }>();
    for (let id = 1; id <= 1000; id++) table.add({ id });
    expect(table.size).toBe(1000);
    for (let id = 1; id <= 1000; id += 2) expect(table.delete(id)).toBe(true);
    expect(table.get(1)).toBeUndefined();
    expect(table.get(2)).toEqual({ id: 2 });
    expect(table.values().map((s) => s.id)).toEqual(Array.from({ length: 500 }, (_, i) => 2 * (i + 1)));
    expect(table.delete(1)).toBe(false);
  });
});

describe("LiveSet", () => {
  it("agrees with a Set under random adds and deletes", () => {
    const next = random(11);
    const set = new LiveSet<{ liveIndex: number; n: number }>();
    const model = new Set<{ liveIndex: number; n: number }>();
    const pool = Array.from({ length: 300 }, (_, n) => ({ liveIndex: -1, n }));
    for (let step = 0; step < 20_000; step++) {
      const member = pool[Math.floor(next() * pool.length)]!;
      if (model.has(member)) {
        expect(set.delete(member)).toBe(true);
        model.delete(member);
        expect(member.liveIndex).toBe(-1);
      } else {
        expect(set.delete(member)).toBe(false);
        set.add(member);
        model.add(member);
      }
      expect(set.size).toBe(model.size);
    }
    expect(new Set(set.values())).toEqual(model);
  });

  it("refuses a member twice and one that belongs to another set", () => {
    const a = new LiveSet<{ liveIndex: number }>();
    const b = new LiveSet<{ liveIndex: number }>();
    const member = { liveIndex: -1 };
    a.add(member);
    expect(() => a.add(member)).toThrow(/already a member/);
    expect(() => b.add(member)).toThrow(/already a member/);
    expect(b.delete(member)).toBe(false);
    expect(a.delete(member)).toBe(true);
    b.add(member);
    expect(b.values()).toEqual([member]);
  });
});

describe("StreamTable and LiveSet release removed members", () => {
  it("a removed member is collectable (the containers keep no reference to it)", () => {
    // Run against the built modules in a child with --expose-gc: WeakRefs to members
    // that were added (through growth) and removed must clear after a full GC.
    const dist = (name: string): string => fileURLToPath(new URL(`../../dist/frame/${name}.js`, import.meta.url));
    const script = `
      const { StreamTable } = await import(${JSON.stringify(dist("stream-table"))});
      const { LiveSet } = await import(${JSON.stringify(dist("live-set"))});
      const table = new StreamTable(), set = new LiveSet(), refs = [];
      const keep = [];
      (() => {
        for (let id = 1; id <= 500; id++) {
          const m = { id, liveIndex: -1 };
          table.add(m); set.add(m); refs.push(new WeakRef(m));
          if (id % 100 === 0) keep.push(m);
        }
        for (let id = 1; id <= 500; id++) if (id % 100 !== 0) { set.delete(table.get(id)); table.delete(id); }
      })();
      await new Promise((r) => setTimeout(r, 0));
      globalThis.gc();
      const alive = refs.filter((r) => r.deref() !== undefined).length;
      console.log(JSON.stringify({ alive, size: table.size, members: set.size }));
    `;
    const child = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], { encoding: "utf8" });
    expect(child.stderr).toBe("");
    expect(JSON.parse(child.stdout)).toEqual({ alive: 5, size: 5, members: 5 });
  });
});
