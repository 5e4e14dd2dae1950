// The encoder's rules one by one: deep nesting costs each level a constant number of
// reads (linear, lengths measured once), values in every form toBinary accepts give its
// bytes and values it refuses are refused in its words, strings at the loop/native
// thresholds and with lone surrogates, a message changed between encodedSize and
// encodeInto is refused rather than written wrong, and the coverage report.

import { create, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { encodedSize, encodeInto, encoderCoverage, encoderFor } from "../../src/protobuf/index.js";
import { LOOP_ASCII_MAX, LOOP_MEASURE_MAX, LOOP_UTF8_MAX } from "../../src/protobuf/utf8.js";
import { checkEncoding, checkRefused } from "./check.js";
import { TestAllTypesProto3Schema } from "./gen/test_messages_proto3_pb.js";
import type { TestAllTypesProto3 } from "./gen/test_messages_proto3_pb.js";
import { TestAllTypesProto2Schema } from "./gen/test_messages_proto2_pb.js";
import { conformanceMessages, projectMessages, requiredCycles } from "./schemas.js";

/** A chain of `depth` messages linked by recursive_message; each link counts its reads. */
function chain(depth: number, reads: { count: number }): TestAllTypesProto3 {
  let inner: TestAllTypesProto3 | undefined;
  for (let level = 0; level < depth; level++) {
    const message = create(TestAllTypesProto3Schema, { optionalInt32: level, optionalString: `level ${level}` });
    const child = inner;
    if (child !== undefined) {
      Object.defineProperty(message, "recursiveMessage", {
        enumerable: true,
        get: () => {
          reads.count++;
          return child;
        },
      });
    }
    inner = message;
  }
  return inner!;
}

describe("deep nesting", () => {
  it("reads each level's child a constant number of times (linear in depth)", () => {
    for (const depth of [100, 400]) {
      const reads = { count: 0 };
      const message = chain(depth, reads);
      const size = encodedSize(TestAllTypesProto3Schema, message);
      expect(reads.count).toBe(depth - 1);
      encodeInto(TestAllTypesProto3Schema, message, new Uint8Array(size), 0);
      // The write pass reads each child once more and measures nothing again.
      expect(reads.count).toBe(2 * (depth - 1));
      reads.count = 0;
      encodeInto(TestAllTypesProto3Schema, message, new Uint8Array(size), 0);
      expect(reads.count).toBe(2 * (depth - 1));
    }
  });

  it("writes toBinary's bytes for a message nested 1,000 levels deep", () => {
    checkEncoding(TestAllTypesProto3Schema, chain(1000, { count: 0 }));
  });
});

describe("values in every form toBinary accepts", () => {
  const p3 = (init: Record<string, unknown>) => create(TestAllTypesProto3Schema, init as never) as Message;
  const p2 = (init: Record<string, unknown>) => create(TestAllTypesProto2Schema, init as never) as Message;
  const accepted: [string, Message][] = [
    ["int32 as a string", p3({ optionalInt32: "12" })],
    ["negative int32 (ten bytes)", p3({ optionalInt32: -1, optionalSint32: -1, optionalSfixed32: -5 })],
    ["int64 as a number", p3({ optionalInt64: 5, optionalUint64: 2 ** 40 })],
    ["int64 as strings BigInt() reads", p3({ optionalInt64: "0x10", optionalSint64: " 7 ", optionalSfixed64: "-0", optionalUint64: "18446744073709551615" })],
    ["int64 extremes", p3({ optionalInt64: -(BigInt(2) ** BigInt(63)), optionalSint64: BigInt(2) ** BigInt(63) - BigInt(1), optionalFixed64: BigInt(2) ** BigInt(64) - BigInt(1) })],
    ["uint32 extremes", p3({ optionalUint32: 0xffffffff, optionalFixed32: 0xffffffff })],
    ["double NaN, -0, Infinity", p3({ optionalDouble: Number.NaN, optionalFloat: -0, repeatedDouble: [-0, Infinity, -Infinity, Number.NaN] })],
    ["float rounded from a double", p3({ optionalFloat: 0.1, repeatedFloat: [1e-45, 3.4e38, 5e-324] })],
    ["float given as strings", p3({ optionalFloat: "1.5", repeatedFloat: ["NaN", "-2"] })],
    ["implicit zeros in other forms are not written", p3({ optionalInt64: "0", optionalInt32: "0", optionalUint64: 0 })],
    ["proto2 explicit zero values", p2({ optionalInt32: 0, optionalString: "", optionalBool: false, optionalBytes: new Uint8Array(0) })],
    ["enum values outside the enum (open)", p3({ optionalNestedEnum: 12345, repeatedNestedEnum: [-7, 0, 99] })],
    ["oneof with an undefined message value", p3({ oneofField: { case: "oneofNestedMessage", value: undefined } })],
  ];
  for (const [name, message] of accepted) {
    it(name, () => {
      checkEncoding(message.$typeName === TestAllTypesProto2Schema.typeName ? TestAllTypesProto2Schema : TestAllTypesProto3Schema, message);
    });
  }

  const refused: [string, Record<string, unknown>][] = [
    ["int32 not an integer", { optionalInt32: 1.5 }],
    ["int32 out of range", { optionalInt32: 2 ** 31 }],
    ["sint32 as a bigint", { optionalSint32: BigInt(1) }],
    ["uint32 negative", { optionalUint32: -1 }],
    ["fixed32 too large", { optionalFixed32: 2 ** 32 }],
    ["float out of range", { optionalFloat: 1e39 }],
    ["float not a number", { optionalFloat: "x" }],
    ["int64 out of range", { optionalInt64: BigInt(2) ** BigInt(63) }],
    ["uint64 negative", { optionalUint64: BigInt(-1) }],
    ["uint64 negative string", { optionalFixed64: "-1" }],
    ["int64 not a number", { optionalSfixed64: "abc" }],
    ["int64 fraction", { optionalSint64: 1.5 }],
    ["a nested message's bad value", { optionalNestedMessage: { a: 0.5 } }],
    ["a map value's bad value", { mapInt32Int32: { 1: 2 ** 40 } }],
  ];
  for (const [name, init] of refused) {
    it(`refused alike: ${name}`, () => {
      const message = create(TestAllTypesProto3Schema) as Message & Record<string, unknown>;
      Object.assign(message, init);
      if (init.optionalNestedMessage !== undefined) message.optionalNestedMessage = create(TestAllTypesProto3Schema.nestedMessages[0], init.optionalNestedMessage as never);
      expect(checkRefused(TestAllTypesProto3Schema, message)).toMatch(/^cannot encode field /);
    });
  }

  it("refused alike: a message of another type", () => {
    const other = create(TestAllTypesProto2Schema, { optionalInt32: 1 });
    expect(checkRefused(TestAllTypesProto3Schema, other as unknown as Message)).toMatch(/^cannot use /);
  });

  it("refused alike: a required field never set, deep inside", () => {
    expect(checkRefused(requiredCycles[0], create(requiredCycles[0]) as Message)).toMatch(/required field not set/);
  });
});

describe("strings", () => {
  const lengths = [0, 1, LOOP_UTF8_MAX, LOOP_UTF8_MAX + 1, LOOP_ASCII_MAX, LOOP_ASCII_MAX + 1, LOOP_MEASURE_MAX, LOOP_MEASURE_MAX + 1, 127, 128, 5000];
  const units = ["a", "é", "€", "\u{1F600}", "\ud800", "\udc00", "\u007f", "\u0080", "\u07ff", "\u0800", "\uffff"];
  for (const length of lengths) {
    it(`${length} code units of every kind, alone and mixed (lone surrogates become U+FFFD)`, () => {
      const texts = units.map((u) => u.repeat(Math.ceil(length / u.length)).slice(0, length));
      texts.push(Array.from({ length }, (_, i) => units[i % units.length]).join("").slice(0, length));
      // A pair cut in half by the end, and a low surrogate before a high one.
      texts.push(`${"x".repeat(Math.max(length - 1, 0))}\ud83d`, `\udc00\ud800${"y".repeat(length)}`);
      for (const text of texts) {
        checkEncoding(TestAllTypesProto3Schema, create(TestAllTypesProto3Schema, { optionalString: text, repeatedString: [text, text], mapStringString: { [text]: text } }));
      }
    });
  }
});

describe("a message changed between encodedSize and encodeInto", () => {
  const target = new Uint8Array(4096);

  it("is refused when a length changed, wherever it is", () => {
    const changes: [string, (m: TestAllTypesProto3) => void][] = [
      ["a longer string", (m) => (m.optionalString = "a much longer string than before")],
      ["a shorter string of the same UTF-16 length", (m) => (m.optionalString = "abcdefghij")],
      ["a nested message grown", (m) => (m.optionalNestedMessage!.a = 300_000)],
      ["a list grown", (m) => m.packedInt32.push(1)],
      ["a map entry's value", (m) => (m.mapStringString.k = "longer value")],
    ];
    for (const [name, change] of changes) {
      const message = create(TestAllTypesProto3Schema, {
        optionalString: "ééééééééé!",
        optionalNestedMessage: { a: 1 },
        packedInt32: [1, 2],
        mapStringString: { k: "v" },
      });
      encodedSize(TestAllTypesProto3Schema, message);
      change(message);
      expect(() => encodeInto(TestAllTypesProto3Schema, message, target, 0), name).toThrow(/changed after encodedSize/);
      // Measured again, it is written as toBinary writes it.
      checkEncoding(TestAllTypesProto3Schema, message);
    }
  });

  it("is written right when no length changed", () => {
    const message = create(TestAllTypesProto3Schema, { optionalString: "abc", optionalInt32: 5 });
    const size = encodedSize(TestAllTypesProto3Schema, message);
    message.optionalString = "xyz";
    message.optionalInt32 = 6;
    const end = encodeInto(TestAllTypesProto3Schema, message, target, 0);
    expect(end).toBe(size);
    expect(target.subarray(0, end)).toEqual(toBinary(TestAllTypesProto3Schema, message));
  });

  it("another message measured in between: the one written is measured again", () => {
    const a = create(TestAllTypesProto3Schema, { optionalString: "first" });
    const b = create(TestAllTypesProto3Schema, { optionalString: "second message", optionalNestedMessage: { a: 1 } });
    const encoder = encoderFor(TestAllTypesProto3Schema);
    encoder.size(a);
    encoder.size(b);
    const end = encoder.write(a, target, 0);
    expect(target.subarray(0, end)).toEqual(toBinary(TestAllTypesProto3Schema, a));
  });
});

describe("encoderCoverage", () => {
  it("covers every message type of the conformance suite and of this project", () => {
    const all: DescMessage[] = [...conformanceMessages, ...projectMessages];
    for (const schema of all) expect(encoderCoverage(schema), schema.typeName).toEqual({ covered: true });
  });

  it("names what it does not know", () => {
    const field = { fieldKind: "future", toString: () => "field x.Y.z" };
    const schema = { typeName: "x.Y", fields: [field] } as unknown as DescMessage;
    const coverage = encoderCoverage(schema);
    expect(coverage.covered).toBe(false);
    expect(coverage.covered === false && coverage.reason).toContain("field x.Y.z");
  });
});
