// The codec on its own: under "copy", decoded bytes/unknown fields are real copies even
// when the frame is a Buffer (whose slice() is a view); under "alias", they are views and
// the frame is held. Covered types are read by src/protobuf's decoder in one pass; read
// options other than the defaults go to fromBinary and the copy pass: the same message.
import { Buffer } from "node:buffer";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { Lease } from "../../src/channel/channel.js";
import { decodeMessage, releaseMessage } from "../../src/connect/decode.js";
import { OrderSchema } from "../gen/market/v1/market_pb.js";

function frame(): Buffer {
  const o = create(OrderSchema, {
    clientOrderId: "x",
    signature: new Uint8Array([1, 2, 3]),
    legs: [new Uint8Array([4, 5])],
    tags: { t: new Uint8Array([6]) },
    timeInForce: { case: "venueInstruction", value: new Uint8Array([7, 8]) },
    reference: { venuePayload: new Uint8Array([9]) },
  });
  o.$unknown = [{ no: 900, wireType: 2, data: new Uint8Array([2, 10, 11]) }];
  return Buffer.from(toBinary(OrderSchema, o));
}

describe("decodeMessage", () => {
  it("copy: every bytes and unknown field is a plain, independent Uint8Array, even from a Buffer", () => {
    const buf = frame();
    const counters = { copies: 0, copiedBytes: 0, framesHeld: 0 };
    const { message: m, lease } = decodeMessage(OrderSchema, buf, "copy", { hold: () => { throw new Error("no hold under copy"); } }, counters);
    expect(lease).toBeUndefined();
    buf.fill(0xee); // the slot is reused
    const fields = [m.signature, m.legs[0], m.tags.t, m.timeInForce.value as Uint8Array, m.reference?.venuePayload, m.$unknown?.[0]?.data];
    for (const f of fields) expect(f?.constructor).toBe(Uint8Array);
    expect(fields.map((f) => [...(f ?? [])])).toEqual([[1, 2, 3], [4, 5], [6], [7, 8], [9], [2, 10, 11]]);
    expect(counters.copies).toBe(6);
  });

  it("copy: a message's unknown fields are copied in one piece (one buffer, one copy counted), values intact", () => {
    const o = create(OrderSchema, { clientOrderId: "x" });
    // 10,000 unknown varint fields (issue 21: a copy each cost an ArrayBuffer each).
    o.$unknown = Array.from({ length: 10_000 }, (_, i) => ({ no: 900 + (i % 7), wireType: 0, data: new Uint8Array([i & 0x7f]) }));
    const buf = Buffer.from(toBinary(OrderSchema, o));
    const counters = { copies: 0, copiedBytes: 0, framesHeld: 0 };
    const { message: m } = decodeMessage(OrderSchema, buf, "copy", { hold: () => { throw new Error("no hold under copy"); } }, counters);
    buf.fill(0xee);
    const unknown = m.$unknown ?? [];
    expect(unknown).toHaveLength(10_000);
    const backing = unknown[0]?.data.buffer;
    expect(backing).not.toBe(buf.buffer);
    expect(unknown.every((u) => u.data.buffer === backing), "every field is a view of the one copy").toBe(true);
    expect(unknown.map((u) => u.data[0])).toEqual(Array.from({ length: 10_000 }, (_, i) => i & 0x7f));
    // One copy: all 10,000 unknown fields at once (the unset signature field holds
    // protobuf-es's shared empty default, nothing of the frame).
    expect(counters).toMatchObject({ copies: 1, copiedBytes: 10_000 });
    // Re-encoded, the message carries them unchanged.
    expect(Buffer.from(toBinary(OrderSchema, m)).equals(Buffer.from(toBinary(OrderSchema, o)))).toBe(true);
  });

  it("covered types are read in one pass, other read options by fromBinary and the copy pass: the same message, the same copies of the frame", () => {
    const copy = (options?: { readUnknownFields?: boolean; recursionLimit?: number }) => {
      const buf = frame();
      const counters = { copies: 0, copiedBytes: 0, framesHeld: 0 };
      const { message } = decodeMessage(OrderSchema, buf, "copy", { hold: () => { throw new Error("no hold under copy"); } }, counters, options);
      buf.fill(0xee);
      return { message, counters };
    };
    const ours = copy();
    const fallback = copy({ recursionLimit: 50 });
    expect(ours.message).toEqual(fallback.message);
    expect(ours.message).toEqual(fromBinary(OrderSchema, new Uint8Array(frame())));
    expect(ours.counters).toEqual({ copies: 6, copiedBytes: 12, framesHeld: 0 });
    expect(fallback.counters).toEqual({ copies: 6, copiedBytes: 12, framesHeld: 0 });
    const unread = copy({ readUnknownFields: false });
    expect(unread.message.$unknown).toBeUndefined();
    expect(unread.counters).toMatchObject({ copies: 5, copiedBytes: 9 });
  });

  it("malformed bytes: ConnectError Internal (parse binary), in one pass and in the fallback alike", () => {
    const bytes = frame().subarray(0, 10);
    for (const options of [undefined, { recursionLimit: 50 }]) {
      let error: unknown;
      try {
        decodeMessage(OrderSchema, bytes, "copy", { hold: () => { throw new Error("no hold under copy"); } }, { copies: 0, copiedBytes: 0, framesHeld: 0 }, options);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.Internal);
      expect((error as ConnectError).rawMessage).toMatch(/^parse binary: premature EOF/);
    }
  });

  it("alias: fields are views of the frame, held until releaseMessage()", () => {
    const buf = frame();
    const counters = { copies: 0, copiedBytes: 0, framesHeld: 0 };
    let released = false;
    const held: Lease = { bytes: buf, get released() { return released; }, release() { released = true; } };
    const { message: m } = decodeMessage(OrderSchema, buf, "alias", { hold: () => held }, counters);
    expect(counters).toMatchObject({ copies: 0, framesHeld: 1 });
    expect(m.signature.buffer).toBe(buf.buffer);
    buf.fill(0xee);
    expect([...m.signature]).toEqual([0xee, 0xee, 0xee]);
    expect(releaseMessage(m)).toBe(true);
    expect(released).toBe(true);
    expect(counters.framesHeld).toBe(0);
  });
});
