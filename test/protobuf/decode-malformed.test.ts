// The decoder against fromBinary where input is hostile or unusual (decode-check.ts: both
// refuse, or both return the same message): random byte arrays, each kind of malformed
// input by hand (cut short, bad wire types, overlong varints and tags, lengths past the
// end, unterminated and mismatched groups, invalid UTF-8 where a field validates it and
// where it does not), what protobuf-es accepts that a strict parser would not (wrong wire
// types for known fields, packed and expanded lists mixed, fields repeated), closed enums'
// unknown values, both read options, and 10,000 levels of nesting (refused at the
// recursion limit, never by a stack overflow; read when the limit allows it).

import fc from "fast-check";
import { create, fromBinary, isMessage, toBinary, toJson } from "@bufbuild/protobuf";
import type { DescMessage } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { decodeFrom } from "../../src/protobuf/index.js";
import { checkDecoding } from "./decode-check.js";
import { conformanceMessages, projectMessages } from "./schemas.js";
import * as proto2 from "./gen/test_messages_proto2_pb.js";
import * as proto3 from "./gen/test_messages_proto3_pb.js";

const P3 = proto3.TestAllTypesProto3Schema;
const P2 = proto2.TestAllTypesProto2Schema;
/** Random byte arrays per message type. */
const RANDOM_RUNS = 1_500;

const w = () => new BinaryWriter();
const refusal = (schema: DescMessage, bytes: Uint8Array) => {
  expect(checkDecoding(schema, bytes)).toBeUndefined();
  try {
    decodeFrom(schema, bytes);
  } catch (e) {
    return (e as Error).message;
  }
  return "";
};

describe("random bytes", () => {
  for (const schema of [...conformanceMessages, ...projectMessages.slice(0, 6)]) {
    it(`${schema.typeName}: ${RANDOM_RUNS} random byte arrays, refused alike or decoded alike`, () => {
      let decoded = 0;
      const field = fc.oneof(
        fc.uint8Array({ maxLength: 40 }),
        // Plausible starts: a valid one-byte tag first, so decoding goes further in.
        fc.tuple(fc.integer({ min: 1, max: 15 }), fc.integer({ min: 0, max: 5 }), fc.uint8Array({ maxLength: 30 })).map(([no, wt, rest]) => Uint8Array.from([(no << 3) | wt, ...rest])),
      );
      fc.assert(
        fc.property(fc.array(field, { maxLength: 4 }), (parts) => {
          const bytes = Uint8Array.from(parts.flatMap((p) => [...p]));
          if (checkDecoding(schema, bytes) !== undefined) decoded++;
        }),
        { numRuns: RANDOM_RUNS },
      );
      expect(decoded).toBeGreaterThan(0);
      expect(decoded).toBeLessThan(RANDOM_RUNS);
    });
  }
});

describe("malformed input, refused alike", () => {
  const good = toBinary(P3, create(P3, { optionalString: "hello", optionalInt64: 5n, optionalNestedMessage: { a: 3 }, repeatedInt32: [1, 2, 3] }));

  it("every truncation of a message", () => {
    for (let n = 1; n < good.length; n++) checkDecoding(P3, good.subarray(0, n));
    expect(refusal(P3, good.subarray(0, good.length - 1))).toMatch(/premature EOF/);
  });

  it("bad wire types, field number 0, tags over 32 bits", () => {
    expect(refusal(P3, Uint8Array.of(0x0e, 0))).toMatch(/illegal tag/); // field 1, wire type 6
    expect(refusal(P3, Uint8Array.of(0x0f, 0))).toMatch(/illegal tag/); // wire type 7
    expect(refusal(P3, Uint8Array.of(0x00, 0))).toMatch(/illegal tag/); // field 0
    expect(refusal(P3, Uint8Array.of(0xf8, 0xff, 0xff, 0xff, 0x1f, 0))).toMatch(/illegal tag/);
    expect(refusal(P3, Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01))).toMatch(/illegal tag/);
    // An end-group tag with no group open.
    expect(refusal(P3, w().tag(3000, WireType.EndGroup).finish())).toMatch(/wire type 4/);
  });

  it("overlong varints: values and lengths of 11 bytes", () => {
    const eleven = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    expect(refusal(P3, Uint8Array.of(0x08, ...eleven))).toMatch(/invalid varint/); // int32
    expect(refusal(P3, Uint8Array.of(0x10, ...eleven))).toMatch(/invalid varint/); // int64
    expect(refusal(P3, Uint8Array.of(0x72, ...eleven))).toMatch(/invalid varint/); // string length
    // 10 bytes are fine (a negative int32), and an unknown varint field has no length limit.
    checkDecoding(P3, Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
    expect(checkDecoding(P3, Uint8Array.of(0xa0, 0x1f, ...eleven))).toBeDefined();
  });

  it("lengths past the end: bytes, strings, messages, packed lists, map entries, unknown fields", () => {
    for (const tag of [0x7a, 0x72, 0x92, 0x01, 0xfa, 0x04, 0xb2, 0x04, 0xa2, 0x1f]) {
      const bytes = tag < 0x80 ? Uint8Array.of(tag, 0x05, 1, 2) : Uint8Array.of(tag, 0x01, 0x05, 1, 2);
      checkDecoding(P3, bytes);
    }
    expect(refusal(P3, Uint8Array.of(0x7a, 0x05, 1, 2))).toMatch(/premature EOF/);
    expect(refusal(P3, Uint8Array.of(0x7a, 0xff, 0xff, 0xff, 0xff, 0x0f))).toMatch(/premature EOF/);
    for (const n of [1, 3, 7]) checkDecoding(P3, Uint8Array.of(0x41, ...new Array<number>(n).fill(0))); // fixed64 cut short
    for (const n of [1, 3]) checkDecoding(P3, Uint8Array.of(0x3d, ...new Array<number>(n).fill(0))); // fixed32 cut short
  });

  it("groups: unterminated, mismatched end tags, and an end tag of another field", () => {
    const group = w().tag(201, WireType.StartGroup).tag(202, WireType.Varint).int32(1);
    expect(refusal(P2, group.finish())).toMatch(/end group|premature EOF/);
    expect(refusal(P2, w().tag(201, WireType.StartGroup).tag(999, WireType.EndGroup).finish())).toMatch(/invalid end group tag/);
    checkDecoding(P2, w().tag(201, WireType.StartGroup).tag(202, WireType.Varint).int32(1).tag(201, WireType.EndGroup).finish());
    // Unknown groups, nested, skipped: matched, mismatched, unterminated.
    const nested = w().tag(4000, WireType.StartGroup).tag(4001, WireType.StartGroup).tag(4001, WireType.EndGroup);
    expect(checkDecoding(P3, w().raw(nested.finish()).tag(4000, WireType.EndGroup).finish())?.$unknown).toHaveLength(1);
    expect(refusal(P3, w().tag(4000, WireType.StartGroup).tag(4002, WireType.EndGroup).finish())).toMatch(/invalid end group tag/);
    refusal(P3, w().tag(4000, WireType.StartGroup).tag(4001, WireType.Varint).int32(3).finish());
  });

  it("invalid UTF-8: refused in a proto3 string (validated), replaced by U+FFFD in a proto2 string", () => {
    for (const bad of [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x61, 0xc0, 0xaf, 0x62]]) {
      const bytes = Uint8Array.of(0x72, bad.length, ...bad);
      expect(refusal(P3, bytes)).toMatch(/utf-8|encoded data/i);
      const m = checkDecoding(P2, bytes) as proto2.TestAllTypesProto2;
      expect(m.optionalString).toContain("\ufffd");
    }
    // A leading U+FEFF is text, not a byte-order mark; long strings take the TextDecoder path alike.
    expect((checkDecoding(P3, Uint8Array.of(0x72, 3, 0xef, 0xbb, 0xbf)) as proto3.TestAllTypesProto3).optionalString).toBe("\ufeff");
    const long = new TextEncoder().encode("é".repeat(100));
    checkDecoding(P2, Uint8Array.of(0x72, long.length + 1, 0x01, ...long.subarray(0, long.length - 1), 0xc3).subarray(0, long.length + 3));
  });
});

describe("what protobuf-es accepts, accepted alike", () => {
  it("known fields with another wire type, lists packed and expanded mixed, scalars repeated (last wins), messages merged", () => {
    const bytes = w()
      .tag(1, WireType.Bit64).int32(7) // optional_int32 sent as "fixed64": read as a varint anyway
      .tag(31, WireType.LengthDelimited).bytes(w().int32(1).int32(2).finish()) // packed
      .tag(31, WireType.Varint).int32(3) // expanded
      .tag(14, WireType.LengthDelimited).string("first").tag(14, WireType.LengthDelimited).string("last")
      .tag(18, WireType.LengthDelimited).bytes(w().tag(1, WireType.Varint).int32(5).finish())
      .tag(18, WireType.LengthDelimited).bytes(w().tag(2, WireType.LengthDelimited).bytes(w().tag(1, WireType.Varint).int32(6).finish()).finish())
      .finish();
    const m = checkDecoding(P3, bytes) as proto3.TestAllTypesProto3;
    expect(m.repeatedInt32).toEqual([1, 2, 3]);
    expect(m.optionalString).toBe("last");
    expect(m.optionalNestedMessage?.a).toBe(5);
    expect(m.optionalNestedMessage?.corecursive?.optionalInt32).toBe(6);
  });

  it("map entries: missing key or value, repeated key, unknown entry fields, key order as object keys", () => {
    const entry = (...parts: Uint8Array[]) => w().tag(56, WireType.LengthDelimited).bytes(Uint8Array.from(parts.flatMap((p) => [...p]))).finish(); // map_int32_int32
    const bytes = Uint8Array.from(
      [entry(w().tag(1, 0).int32(9).tag(2, 0).int32(1).finish()), entry(w().tag(2, 0).int32(2).finish()), entry(w().tag(1, 0).int32(-4).finish()), entry(w().tag(1, 0).int32(9).tag(3, 0).int32(5).tag(2, 0).int32(7).finish())].flatMap((b) => [...b]),
    );
    const m = checkDecoding(P3, bytes) as proto3.TestAllTypesProto3;
    expect(m.mapInt32Int32).toEqual({ "9": 7, "0": 2, "-4": 0 });
    const proto = w().tag(69, 2).bytes(w().tag(1, 2).string("__proto__").tag(2, 2).string("x").finish()).finish(); // map_string_string (proto2)
    expect(Object.keys((checkDecoding(P2, proto) as proto2.TestAllTypesProto2).mapStringString)).toEqual(["__proto__"]);
  });

  it("closed enums: unknown values kept in $unknown (singular and oneof), lists take any int32, and protobuf-es's quirk kept", () => {
    const unknownEnum = w().tag(21, WireType.Varint).int32(99).tag(119, WireType.Varint).int32(-7).finish();
    const m = checkDecoding(P2, unknownEnum) as proto2.TestAllTypesProto2;
    expect(m.$unknown?.map((u) => u.no)).toEqual([21, 119]);
    expect(Object.hasOwn(m, "optionalNestedEnum")).toBe(false);
    const list = checkDecoding(P2, w().tag(51, WireType.Varint).int32(99).finish()) as proto2.TestAllTypesProto2; // repeated_nested_enum
    expect(list.repeatedNestedEnum).toEqual([99]);
    // Another unknown field of the same message replaces the enum's entries (as fromBinary has it).
    const both = checkDecoding(P2, w().tag(21, WireType.Varint).int32(99).tag(3000, WireType.Varint).int32(1).finish()) as proto2.TestAllTypesProto2;
    expect(both.$unknown?.map((u) => u.no)).toEqual([3000]);
  });

  it("read options: readUnknownFields false, a low recursionLimit", () => {
    const bytes = toBinary(P3, create(P3, { recursiveMessage: { recursiveMessage: { optionalInt32: 1 } }, $unknown: [{ no: 3000, wireType: 0, data: Uint8Array.of(1) }] }));
    expect(checkDecoding(P3, bytes, { readUnknownFields: false })?.$unknown).toBeUndefined();
    expect(checkDecoding(P3, bytes, { recursionLimit: 3 })).toBeDefined();
    expect(checkDecoding(P3, bytes, { recursionLimit: 2 })).toBeUndefined();
  });
});

describe("10,000 levels of nesting", () => {
  const DEPTH = 10_000;
  /** recursive_message inside recursive_message, DEPTH deep. */
  function nested(depth: number): Uint8Array {
    let inner: Uint8Array = w().tag(1, WireType.Varint).int32(42).finish();
    for (let i = 0; i < depth; i++) inner = w().tag(27, WireType.LengthDelimited).bytes(inner).finish();
    return inner;
  }
  function groups(depth: number): Uint8Array {
    const out: number[] = [];
    for (let i = 0; i < depth; i++) out.push(...w().tag(4000, WireType.StartGroup).finish());
    for (let i = 0; i < depth; i++) out.push(...w().tag(4000, WireType.EndGroup).finish());
    return Uint8Array.from(out);
  }

  it("refused at the recursion limit (100), messages and unknown groups alike", () => {
    const bytes = nested(DEPTH);
    expect(refusal(P3, bytes)).toMatch(/maximum recursion depth of 100 reached/);
    expect(refusal(P3, groups(DEPTH))).toMatch(/maximum recursion depth/);
  });

  /** Whether a decode of `bytes` succeeds (false: it threw a stack overflow, the only error expected here). */
  function reads(decode: () => unknown): boolean {
    try {
      decode();
      return true;
    } catch (e) {
      expect(e).toBeInstanceOf(RangeError);
      return false;
    }
  }

  it("with the limit raised, read at least as deep as fromBinary reads, never deeper on its side", () => {
    // fromBinary's depth ends where the stack does (about 5,000 levels here with a raised
    // limit; 10,000 overflow it): find its depth, then ours must read that and equal.
    let theirs = 0;
    let ours = 0;
    for (const depth of [DEPTH, 8_000, 6_000, 5_000, 4_000, 3_000, 2_000, 1_000]) {
      const bytes = nested(depth);
      const options = { recursionLimit: depth + 1 };
      if (ours === 0 && reads(() => decodeFrom(P3, bytes, "alias", options))) ours = depth;
      if (theirs === 0 && reads(() => fromBinary(P3, bytes, options))) {
        theirs = depth;
        let m = checkDecoding(P3, bytes, options) as proto3.TestAllTypesProto3;
        for (let i = 0; i < depth; i++) m = m.recursiveMessage!;
        expect(m.optionalInt32).toBe(42);
      }
    }
    expect(theirs).toBeGreaterThan(0);
    expect(ours).toBeGreaterThanOrEqual(theirs);
  });
});

describe("what the message is to protobuf-es", () => {
  it("isMessage, toBinary and toJson treat ours as fromBinary's", () => {
    const message = create(P2, { optionalInt32: 5, optionalNestedMessage: { a: 1 }, mapStringString: { k: "v" }, oneofField: { case: "oneofUint32", value: 3 }, data: { groupInt32: 2 } });
    const bytes = toBinary(P2, message);
    const ours = decodeFrom(P2, bytes);
    expect(isMessage(ours, P2)).toBe(true);
    expect(Buffer.compare(toBinary(P2, ours), bytes)).toBe(0);
    expect(toJson(P2, ours)).toEqual(toJson(P2, fromBinary(P2, bytes)));
    // Explicit presence: an unset proto2 field reads its default from the shared prototype.
    expect(Object.getPrototypeOf(ours)).toBe(Object.getPrototypeOf(fromBinary(P2, bytes)));
    expect(Object.hasOwn(ours, "optionalInt64")).toBe(false);
  });

  it("from a Buffer: alias views are the Buffer's, as fromBinary's; copies are plain Uint8Arrays", () => {
    const bytes = Buffer.from(toBinary(P3, create(P3, { optionalBytes: Uint8Array.of(1, 2, 3) })));
    expect(decodeFrom(P3, bytes, "alias").optionalBytes.constructor).toBe(fromBinary(P3, bytes).optionalBytes.constructor);
    const counts = { copies: 0, copiedBytes: 0 };
    const copied = decodeFrom(P3, bytes, "copy", { counts });
    expect(copied.optionalBytes.constructor).toBe(Uint8Array);
    expect(copied.optionalBytes.buffer).not.toBe(bytes.buffer);
    expect(counts).toEqual({ copies: 1, copiedBytes: 3 });
  });
});
