// The encoder on its own (src/connect/encode.ts): large top-level bytes fields go to the
// frame as separate pieces instead of through toBinary's buffer. Whatever the pieces,
// the payload must decode to exactly the message that was encoded, with field presence
// kept, and the caller's message must not change.
import { create, createFileRegistry, equals, fromBinary, isFieldSet, toBinary } from "@bufbuild/protobuf";
import type { DescMessage } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { SPLICE_MIN_BYTES, encodeMessage } from "../../src/connect/encode.js";
import { PayloadParts } from "../../src/frame/payload.js";
import type { Payload } from "../../src/frame/payload.js";
import { WireWriter } from "../../src/frame/wire.js";
import { OrderSchema } from "../gen/market/v1/market_pb.js";

const big = (n: number, fill: number) => new Uint8Array(n).fill(fill);

/** The payload as the frame writer lays it out in a lease (pieces in order). */
function written(payload: Payload): Uint8Array {
  const out = new Uint8Array(payload.byteLength);
  const w = new WireWriter(out);
  w.raw(payload);
  expect(w.pos).toBe(payload.byteLength);
  return out;
}

// A proto2 message built at run time: explicit presence, a required field, a default.
const proto2 = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "splice_test.proto",
    package: "splice.v1",
    syntax: "proto2",
    messageType: [
      {
        name: "P2",
        field: [
          { name: "opt", number: 1, type: FieldDescriptorProto_Type.BYTES, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: "opt" },
          { name: "req", number: 2, type: FieldDescriptorProto_Type.BYTES, label: FieldDescriptorProto_Label.REQUIRED, jsonName: "req" },
          { name: "def", number: 3, type: FieldDescriptorProto_Type.BYTES, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: "def", defaultValue: "abc" },
          { name: "n", number: 4, type: FieldDescriptorProto_Type.INT32, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: "n" },
        ],
      },
    ],
  }),
  () => undefined,
);
const P2 = proto2.getMessage("splice.v1.P2") as DescMessage;

describe("encodeMessage", () => {
  it("splices a large singular bytes field; the payload decodes to the same message", () => {
    const order = create(OrderSchema, {
      clientOrderId: "o-1",
      quantity: 7n,
      signature: big(64 * 1024, 0x51),
      legs: [big(5000, 1), big(10, 2)],
      tags: { a: big(3000, 3) },
      timeInForce: { case: "venueInstruction", value: big(4000, 4) },
      reference: { venuePayload: big(2000, 5) },
    });
    order.$unknown = [{ no: 900, wireType: 2, data: new Uint8Array([2, 10, 11]) }];
    const payload = encodeMessage(OrderSchema, order);
    expect(payload).toBeInstanceOf(PayloadParts);
    const parts = (payload as PayloadParts).parts;
    // The field itself is one of the pieces: not copied by the encoder.
    expect(parts).toContain(order.signature);
    expect(payload.byteLength).toBe(toBinary(OrderSchema, order).byteLength);
    const decoded = fromBinary(OrderSchema, written(payload));
    expect(equals(OrderSchema, decoded, order)).toBe(true);
    expect(decoded.$unknown).toEqual(order.$unknown);
  });

  it("leaves small messages to toBinary: one array, byte for byte", () => {
    const order = create(OrderSchema, { clientOrderId: "o-2", signature: big(SPLICE_MIN_BYTES - 1, 9) });
    const payload = encodeMessage(OrderSchema, order);
    expect(payload).toBeInstanceOf(Uint8Array);
    expect(payload).toEqual(toBinary(OrderSchema, order));
  });

  it("does not change the caller's message, frozen or not", () => {
    const signature = big(8192, 0x33);
    const order = Object.freeze(create(OrderSchema, { clientOrderId: "o-3", signature }));
    const payload = encodeMessage(OrderSchema, order);
    expect(order.signature).toBe(signature);
    expect(equals(OrderSchema, fromBinary(OrderSchema, written(payload)), order)).toBe(true);
  });

  it("keeps proto2 presence: set fields stay set, unset ones (with defaults) stay unset", () => {
    const m = create(P2, { opt: big(4096, 1), req: big(4096, 2) } as never) as Record<string, unknown>;
    const payload = encodeMessage(P2, m as never);
    expect(payload).toBeInstanceOf(PayloadParts);
    const decoded = fromBinary(P2, written(payload));
    expect(equals(P2, decoded, m as never)).toBe(true);
    expect(isFieldSet(decoded, P2.field.opt)).toBe(true);
    expect(isFieldSet(decoded, P2.field.req)).toBe(true);
    expect(isFieldSet(decoded, P2.field.def)).toBe(false);
    expect(isFieldSet(decoded, P2.field.n)).toBe(false);

    // An explicitly set but unspliced (small) field next to a spliced one.
    const m2 = create(P2, { opt: new Uint8Array([7]), req: big(2048, 3), n: 5 } as never);
    const decoded2 = fromBinary(P2, written(encodeMessage(P2, m2)));
    expect(equals(P2, decoded2, m2)).toBe(true);
    expect(isFieldSet(decoded2, P2.field.opt)).toBe(true);
  });

  it("the frame writer copies the pieces in order at the frame's offset in a lease, in bounds", () => {
    const order = create(OrderSchema, { clientOrderId: "o-4", signature: big(3000, 0x77), legs: [big(1, 1)] });
    const payload = encodeMessage(OrderSchema, order);
    const lease = new Uint8Array(payload.byteLength + 8);
    const w = new WireWriter(lease.subarray(4, 4 + payload.byteLength));
    w.raw(payload);
    expect(w.pos).toBe(payload.byteLength);
    // In bounds: the bytes around the frame's place in the lease are untouched.
    expect([...lease.subarray(0, 4), ...lease.subarray(4 + payload.byteLength)]).toEqual(new Array(8).fill(0));
    expect(equals(OrderSchema, fromBinary(OrderSchema, lease.subarray(4, 4 + payload.byteLength)), order)).toBe(true);
  });
});
