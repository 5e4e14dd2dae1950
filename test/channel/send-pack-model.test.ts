// Send packs against a model of the native engine's side of the range table (the rules of
// native/uring/uring_engine.h, "Send packs"): random runs of frames on a few connections,
// writers that throw, early hand-overs and table reads in between. Asserted for every
// run: each connection's bytes, cut at the length headers, are exactly its frames in
// order; no range is added for a pack after a read ended it; every pack lease is freed
// exactly once (by the read that saw its last range, or by JS when nothing of it was
// described) and none is left at the end. Pure JS: the region is a plain buffer with a
// bump allocator that never reuses an offset, so a range into a freed pack shows.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Region } from "../../src/region.js";
import { PACK_BYTES, SendPack, SendRangeTable } from "../../src/channel/send-pack.js";

const CONNECTIONS = 3;

class ModelRegion {
  readonly buffer = new ArrayBuffer(8 * 1024 * 1024);
  readonly live = new Set<number>();
  readonly freed = new Set<number>();
  #next = 0;

  allocOffset(byteLength: number): number {
    if (this.#next + byteLength > this.buffer.byteLength) return -1;
    const offset = this.#next;
    this.#next += byteLength;
    this.live.add(offset);
    return offset;
  }

  free(offset: number): void {
    if (!this.live.delete(offset)) throw new Error(`lease ${offset} freed twice or never allocated`);
    this.freed.add(offset);
  }
}

/** What UringEngine::DrainSendRanges does with the table, with the sends done at once. */
function read(table: SendRangeTable, region: ModelRegion, streams: number[][]): void {
  const w = table.words;
  const count = w[0]!;
  w[0] = 0;
  w[1] = w[1]! + 1;
  const lastOf = new Map<number, number>();
  for (let i = 0; i < count; i++) lastOf.set(w[2 + i * 5 + 1]!, i);
  const bytes = new Uint8Array(region.buffer);
  for (let i = 0; i < count; i++) {
    const e = 2 + i * 5;
    const [connection, lease, from, length] = [w[e]!, w[e + 1]!, w[e + 2]!, w[e + 3]!];
    if (!region.live.has(lease)) throw new Error(`a range into lease ${lease}, which is not live`);
    for (const b of bytes.subarray(lease + from, lease + from + length)) streams[connection]!.push(b);
    if (lastOf.get(lease) === i) region.free(lease);
  }
}

/** The frames of one connection's bytes (u32 little-endian length, body). */
function cut(stream: number[]): number[][] {
  const frames: number[][] = [];
  for (let at = 0; at < stream.length; ) {
    const length = stream[at]! | (stream[at + 1]! << 8) | (stream[at + 2]! << 16) | (stream[at + 3]! << 24);
    frames.push(stream.slice(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return frames;
}

type Step = { kind: "frame"; connection: number; size: number; throws: boolean } | { kind: "read" };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant("frame" as const),
      connection: fc.integer({ min: 0, max: CONNECTIONS - 1 }),
      size: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 65, max: 2048 })),
      throws: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "read" as const }) },
);

describe("send packs against a model of the engine's reads", () => {
  it("bytes exact per connection, no range after the read that ended its pack, every lease freed once", () => {
    fc.assert(
      // Without reads of their own, runs fill the table (256 ranges) and hand it over early.
      fc.property(fc.array(step, { minLength: 1, maxLength: 700, size: "max" }), fc.boolean(), (allSteps, reads) => {
        const steps = reads ? allSteps : allSteps.filter((s) => s.kind === "frame");
        const region = new ModelRegion();
        const table = new SendRangeTable();
        const streams: number[][] = Array.from({ length: CONNECTIONS }, () => []);
        table.attach(() => read(table, region, streams));
        const packs = Array.from({ length: CONNECTIONS }, (_, c) => new SendPack(table, region as unknown as Region, c));
        const expected: number[][][] = Array.from({ length: CONNECTIONS }, () => []);
        let seed = 1;
        for (const s of steps) {
          if (s.kind === "read") {
            read(table, region, streams);
            continue;
          }
          const body = Array.from({ length: s.size }, () => (seed = (seed * 1103515245 + 12345) >>> 0) & 0xff);
          const write = (bytes: Uint8Array): void => {
            if (s.throws) throw new Error("changed while written");
            bytes.set(body);
          };
          if (s.throws) {
            expect(() => packs[s.connection]!.write({ byteLength: s.size, write })).toThrow(/changed while written/);
          } else {
            expect(packs[s.connection]!.write({ byteLength: s.size, write })).toBe(true);
            expected[s.connection]!.push(body);
          }
        }
        read(table, region, streams);
        for (let c = 0; c < CONNECTIONS; c++) expect(cut(streams[c]!)).toEqual(expected[c]);
        expect([...region.live], "pack leases never freed").toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it("a pack never grows past PACK_BYTES, and a lone frame after a read gets a lease of about its size", () => {
    const region = new ModelRegion();
    const sizes: number[] = [];
    const original = region.allocOffset.bind(region);
    region.allocOffset = (n: number) => (sizes.push(n), original(n));
    const table = new SendRangeTable();
    table.attach(() => read(table, region, [[]]));
    const pack = new SendPack(table, region as unknown as Region, 0);
    for (let i = 0; i < 5000; i++) pack.write({ byteLength: 60, write: (b) => b.fill(1) });
    expect(Math.max(...sizes)).toBe(PACK_BYTES);
    read(table, region, [[]]);
    sizes.length = 0;
    // A turn with one frame, then turns with one frame each: packs shrink to fit.
    for (let turn = 0; turn < 4; turn++) {
      pack.write({ byteLength: 60, write: (b) => b.fill(2) });
      read(table, region, [[]]);
    }
    expect(sizes.at(-1)).toBeLessThanOrEqual(2 * 64);
    expect([...region.live]).toEqual([]);
  });
});
