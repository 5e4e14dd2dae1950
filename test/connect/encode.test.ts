// The send side's encoding on its own (src/connect/encode.ts): a covered message is
// measured once and written straight into the frame's bytes, byte for byte what toBinary
// makes, in bounds, with no copy counted; a detached payload keeps the message as it was
// when detached (one copy); the writeUnknownFields: false fallback is toBinary + a
// counted copy; encoding errors are connect-es's Internal "serialize binary".
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { encodeMessage } from "../../src/connect/encode.js";
import type { SendCounters } from "../../src/connect/encode.js";
import type { Payload } from "../../src/frame/payload.js";
import { WireWriter } from "../../src/frame/wire.js";
import { OrderSchema, QuoteSchema } from "../gen/market/v1/market_pb.js";

const big = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const counters = (): SendCounters => ({ copies: 0, copiedBytes: 0, sendCopies: 0, encodeFallbacks: 0 });

/** The payload as the frame writer lays it out at offset 4 of a larger lease; the margins must stay 0. */
function written(payload: Payload): Uint8Array {
  const lease = new Uint8Array(payload.byteLength + 8);
  const w = new WireWriter(lease.subarray(4, 4 + payload.byteLength));
  w.raw(payload);
  expect(w.pos).toBe(payload.byteLength);
  expect([...lease.subarray(0, 4), ...lease.subarray(4 + payload.byteLength)]).toEqual(new Array(8).fill(0));
  return lease.subarray(4, 4 + payload.byteLength);
}

function order() {
  const o = create(OrderSchema, {
    clientOrderId: "o-1",
    quantity: 7n,
    signature: big(64 * 1024, 0x51),
    legs: [big(5000, 1), big(10, 2)],
    tags: { a: big(3000, 3) },
    timeInForce: { case: "venueInstruction", value: big(4000, 4) },
    reference: { venuePayload: big(2000, 5) },
  });
  o.$unknown = [{ no: 900, wireType: 2, data: new Uint8Array([2, 10, 11]) }];
  return o;
}

describe("encodeMessage", () => {
  it("writes a covered message in place: toBinary's bytes, in bounds, no copy and no fallback counted", () => {
    for (const m of [order(), create(OrderSchema, { clientOrderId: "small" }), create(OrderSchema)]) {
      const c = counters();
      const payload = encodeMessage(OrderSchema, m, undefined, c);
      expect(payload.inPlace).toBe(true);
      expect(written(payload)).toEqual(toBinary(OrderSchema, m));
      expect(c).toEqual(counters());
    }
  });

  it("a detached payload writes the message as it was when detached, and counts that one copy", () => {
    const c = counters();
    const q = create(QuoteSchema, { symbol: "A", venuePayload: big(64, 7) });
    const before = toBinary(QuoteSchema, q);
    const payload = encodeMessage(QuoteSchema, q, undefined, c);
    payload.detach();
    payload.detach(); // idempotent: a frame may wait for credit, then for region space
    q.symbol = "CHANGED";
    q.venuePayload = big(10, 1);
    expect(written(payload)).toEqual(before);
    expect(c).toEqual({ copies: 1, copiedBytes: before.byteLength, sendCopies: 1, encodeFallbacks: 0 });
  });

  it("writeUnknownFields: false falls back to toBinary with the options, counted as a fallback and a copy", () => {
    const c = counters();
    const m = order();
    const payload = encodeMessage(OrderSchema, m, { writeUnknownFields: false }, c);
    expect(payload.inPlace).toBe(false);
    const bytes = written(payload);
    expect(bytes).toEqual(toBinary(OrderSchema, m, { writeUnknownFields: false }));
    expect(fromBinary(OrderSchema, bytes).$unknown).toBeUndefined();
    expect(c).toEqual({ copies: 1, copiedBytes: bytes.byteLength, sendCopies: 1, encodeFallbacks: 1 });
  });

  it("a value the encoder refuses is ConnectError Internal (serialize binary), before anything is written", () => {
    const q = create(QuoteSchema, { symbol: "A" });
    (q as unknown as Record<string, unknown>).bidSize = "not a number";
    let error: unknown;
    try {
      encodeMessage(QuoteSchema, q, undefined, counters());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Internal);
    expect((error as ConnectError).rawMessage).toMatch(/^serialize binary: /);
  });

  /** Measures `q`, changes its symbol, writes into a lease sized as measured; the error, if any. */
  function writeChanged(q: ReturnType<typeof create<typeof QuoteSchema>>): { error: unknown; margin: number[] } {
    const payload = encodeMessage(QuoteSchema, q, undefined, counters());
    q.symbol = "A much longer symbol than the one that was measured";
    const lease = new Uint8Array(payload.byteLength + 8);
    try {
      new WireWriter(lease.subarray(0, payload.byteLength)).raw(payload);
    } catch (e) {
      return { error: e, margin: [...lease.subarray(payload.byteLength)] };
    }
    return { error: undefined, margin: [...lease.subarray(payload.byteLength)] };
  }

  it("a message that grew between measuring and writing is refused (Internal); nothing is written past the frame", () => {
    const { error, margin } = writeChanged(create(QuoteSchema, { symbol: "A", bid: 1.5, sequence: 9n }));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Internal);
    expect(margin).toEqual(new Array(8).fill(0));
  });

  // The string is the last field: the native writer has no room past the measured
  // length, so the encoder must measure it again to see that it grew.
  it("a changed string that ends the target is refused too", () => {
    const { error } = writeChanged(create(QuoteSchema, { symbol: "A" }));
    expect(error).toBeInstanceOf(ConnectError);
  });
});
