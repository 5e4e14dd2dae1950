// Wire cursors over frames that share one buffer (a region, a socket chunk): reads and
// writes address the frame's own bytes, and never step outside them.
import { describe, expect, it } from "vitest";
import { ProtocolError } from "../../src/frame/protocol-error.js";
import { WireReader, WireWriter } from "../../src/frame/wire.js";

describe("wire cursors on frames inside a larger buffer", () => {
  it("write and read at the frame's offset; an overrun throws and leaves the neighbours intact", () => {
    const buffer = new Uint8Array(64).fill(0xee);
    const frame = buffer.subarray(16, 24);
    const w = new WireWriter(frame);
    w.u8(1);
    w.u16(0x0302);
    w.u32(0x07060504);
    expect(() => w.u16(0xffff)).toThrow(RangeError);
    expect(() => w.u32(0xffffffff)).toThrow(RangeError);
    w.u8(8);
    expect(() => w.u8(9)).toThrow(RangeError);
    expect([...buffer.subarray(16, 24)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(buffer.subarray(0, 16).every((b) => b === 0xee) && buffer.subarray(24).every((b) => b === 0xee)).toBe(true);

    const r = new WireReader(frame, 0, "TEST");
    expect([r.u8("a"), r.u16("b"), r.u32("c"), r.u8("d")]).toEqual([1, 0x0302, 0x07060504, 8]);
    expect(() => r.u8("past the end")).toThrow(ProtocolError);
    // Another frame of the same buffer reads its own bytes.
    expect(new WireReader(buffer.subarray(20, 22), 0, "TEST").u16("x")).toBe(0x0605);
  });
});
