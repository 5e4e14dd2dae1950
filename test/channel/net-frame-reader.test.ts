// FrameReader (the net engine's stream parser) on synthetic streams: every split point
// of the header and body, many frames per chunk, reassembly into the region vs on the
// heap when the region is full, oversize lengths, and dispose() freeing a partial frame.

import { afterEach, describe, expect, it } from "vitest";
import { Region } from "../../src/region.js";
import { FrameReader, type FrameOrigin } from "../../src/channel/net-frame-reader.js";
import { pattern } from "./support/pattern.js";

function stream(bodies: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(bodies.reduce((n, b) => n + 4 + b.byteLength, 0));
  let at = 0;
  for (const body of bodies) {
    new DataView(out.buffer).setUint32(at, body.byteLength, true);
    out.set(body, at + 4);
    at += 4 + body.byteLength;
  }
  return out;
}

describe("FrameReader", () => {
  const regions: Region[] = [];
  const region = (leaseBytes = 1 << 20): Region => {
    const r = new Region({ leaseBytes, recvSlots: 1 });
    regions.push(r);
    return r;
  };
  afterEach(() => regions.splice(0).forEach((r) => r.close()));

  function collect(r: Region, max = 1 << 20) {
    const frames: { bytes: Uint8Array; kind: FrameOrigin["kind"]; inRegion: boolean }[] = [];
    const reader = new FrameReader(r, max, (frame, origin) => {
      frames.push({ bytes: frame.slice(), kind: origin.kind, inRegion: frame.buffer === r.buffer });
      if (origin.kind === "lease") origin.lease.release();
      return true;
    });
    return { reader, frames };
  }

  it("parses the same frames whatever the chunk boundaries", () => {
    const bodies = [0, 1, 2, 3, 4, 5, 100, 0, 7].map((n, i) => pattern(n, i));
    const bytes = stream(bodies);
    for (let split = 0; split <= bytes.byteLength; split++) {
      for (const step of [1, 3, 7]) {
        const r = region();
        const { reader, frames } = collect(r);
        const chunks = [bytes.subarray(0, split)];
        for (let at = split; at < bytes.byteLength; at += step) chunks.push(bytes.subarray(at, Math.min(at + step, bytes.byteLength)));
        for (const chunk of chunks) expect(reader.push(chunk)).toBeUndefined();
        expect(frames.map((f) => Array.from(f.bytes))).toEqual(bodies.map((b) => Array.from(b)));
        expect(reader.midFrame).toBe(false);
        expect(r.stats().liveLeases).toBe(0);
        r.close();
      }
    }
  });

  it("delivers frames inside a chunk as views of it, and straddling frames reassembled in the region", () => {
    const r = region();
    const { reader, frames } = collect(r);
    const bytes = stream([pattern(10, 1), pattern(5000, 2)]);
    reader.push(bytes.subarray(0, 2000));
    reader.push(bytes.subarray(2000));
    expect(frames.map((f) => [f.kind, f.inRegion, f.bytes.byteLength])).toEqual([
      ["view", false, 10],
      ["lease", true, 5000],
    ]);
    expect(Array.from(frames[1]!.bytes)).toEqual(Array.from(pattern(5000, 2)));
  });

  it("reassembles on the heap when the region is full, instead of stalling the stream", () => {
    const r = region(4096);
    const blocker = r.allocate(4000);
    const { reader, frames } = collect(r);
    const bytes = stream([pattern(3000, 3)]);
    reader.push(bytes.subarray(0, 100));
    reader.push(bytes.subarray(100));
    expect(frames.map((f) => [f.kind, f.inRegion])).toEqual([["heap", false]]);
    expect(Array.from(frames[0]!.bytes)).toEqual(Array.from(pattern(3000, 3)));
    blocker.release();
  });

  it("returns ERR_FRAME_TOO_LARGE for a length above maxFrameBytes, also when the header is split", () => {
    const r = region();
    const { reader, frames } = collect(r, 1000);
    const bytes = stream([pattern(1000, 1), pattern(1001, 2)]);
    expect(reader.push(bytes.subarray(0, 1006))).toBeUndefined();
    expect(reader.push(bytes.subarray(1006))).toMatchObject({ code: "ERR_FRAME_TOO_LARGE" });
    expect(frames).toHaveLength(1);
  });

  it("dispose() frees a partly reassembled frame; midFrame tells a cut stream", () => {
    const r = region();
    const { reader } = collect(r);
    reader.push(stream([pattern(5000, 1)]).subarray(0, 3000));
    expect([reader.midFrame, r.stats().liveLeases]).toEqual([true, 1]);
    reader.dispose();
    expect([reader.midFrame, r.stats().liveLeases]).toEqual([false, 0]);
    reader.push(new Uint8Array([1, 0]));
    expect(reader.midFrame).toBe(true);
  });
});
