// The decoder against fromBinary on random messages (the encoder's generators, arbitrary.ts),
// each encoded with toBinary and decoded by both, in both modes (decode-check.ts): the
// Protobuf conformance types (proto2, proto3, editions 2023, with unknown fields and
// extensions, nested two levels deep) and every type of this project's protos. Then the
// same bytes broken: cut short, and with random bytes changed, inserted or appended, where
// both decoders must refuse them or return equal messages; decoderCoverage. Messages per run:
// 5 × 3,000 + 14 × 2,600 = 51,400 whole, plus 5 × 1,000 + 14 × 300 = 9,200 broken.

import fc from "fast-check";
import { toBinary } from "@bufbuild/protobuf";
import type { DescMessage } from "@bufbuild/protobuf";
import { decoderCoverage } from "../../src/protobuf/index.js";
import { describe, expect, it } from "vitest";
import { MessageArbitraries } from "./arbitrary.js";
import { checkDecoding } from "./decode-check.js";
import { conformanceExtensions, conformanceMessages, projectMessages } from "./schemas.js";

/** Random messages per TestAllTypes variant (5 variants). */
const RUNS = 3_000;
/** Random messages per type of this project (14 types). */
const PROJECT_RUNS = 2_600;
/** Broken messages per conformance type and per project type. */
const BROKEN_RUNS = 1_000;
const PROJECT_BROKEN_RUNS = 300;

const conformance = new MessageArbitraries({ depth: 2, fieldsSet: 8, maxItems: 3, extensions: conformanceExtensions, unknownFields: true });
const project = new MessageArbitraries({ depth: 2, fieldsSet: 4, maxItems: 4, unknownFields: true });

/** Bytes of a message with one kind of damage. */
function broken(schema: DescMessage, arbitraries: MessageArbitraries): fc.Arbitrary<Uint8Array> {
  const whole = arbitraries.message(schema).map((m) => toBinary(schema, m));
  return fc.tuple(whole, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 3 })).map(([bytes, at, extra, how]) => {
    const i = bytes.length === 0 ? 0 : at % bytes.length;
    switch (how) {
      case 0: // cut short
        return bytes.subarray(0, i);
      case 1: {
        // bytes changed
        const changed = bytes.slice();
        for (let k = 0; k < extra.length && i + k < changed.length; k++) changed[i + k] = extra[k];
        return changed;
      }
      case 2: // bytes inserted
        return Uint8Array.from([...bytes.subarray(0, i), ...extra, ...bytes.subarray(i)]);
      default: // bytes appended
        return Uint8Array.from([...bytes, ...extra]);
    }
  });
}

function decodeWhole(schema: DescMessage, arbitraries: MessageArbitraries, runs: number): number {
  let bytes = 0;
  fc.assert(
    fc.property(arbitraries.message(schema), (message) => {
      const encoded = toBinary(schema, message);
      bytes += encoded.length;
      expect(checkDecoding(schema, encoded)).toBeDefined();
    }),
    { numRuns: runs },
  );
  return bytes;
}

function decodeBroken(schema: DescMessage, arbitraries: MessageArbitraries, runs: number): number {
  let refused = 0;
  fc.assert(
    fc.property(broken(schema, arbitraries), (bytes) => {
      if (checkDecoding(schema, bytes) === undefined) refused++;
    }),
    { numRuns: runs },
  );
  return refused;
}

describe("decoder = fromBinary on the conformance messages", () => {
  for (const schema of conformanceMessages) {
    it(`${schema.typeName}: ${RUNS} random messages`, () => {
      // The messages were not all empty: the comparison saw real content.
      expect(decodeWhole(schema, conformance, RUNS) / RUNS).toBeGreaterThan(20);
    });
    it(`${schema.typeName}: ${BROKEN_RUNS} broken messages, refused alike or decoded alike`, () => {
      // Both outcomes were seen: some damage is refused, some decodes.
      const refused = decodeBroken(schema, conformance, BROKEN_RUNS);
      expect(refused).toBeGreaterThan(BROKEN_RUNS / 20);
      expect(refused).toBeLessThan(BROKEN_RUNS);
    });
  }
});

describe("decoder = fromBinary on this project's messages", () => {
  it("covers this project's 14 message types", () => expect(projectMessages.length).toBe(14));
  for (const schema of projectMessages) {
    it(`${schema.typeName}: ${PROJECT_RUNS} random messages, ${PROJECT_BROKEN_RUNS} broken ones`, () => {
      expect(decodeWhole(schema, project, PROJECT_RUNS)).toBeGreaterThan(0);
      expect(decodeBroken(schema, project, PROJECT_BROKEN_RUNS)).toBeLessThanOrEqual(PROJECT_BROKEN_RUNS);
    });
  }
});

describe("decoderCoverage", () => {
  it("covers every message type of the conformance suite and of this project", () => {
    for (const schema of [...conformanceMessages, ...projectMessages]) expect(decoderCoverage(schema), schema.typeName).toEqual({ covered: true });
  });

  it("names the field kind or scalar type it does not know", () => {
    const kind = { typeName: "x.Y", fields: [{ fieldKind: "future", toString: () => "field x.Y.z" }] } as unknown as DescMessage;
    const scalar = { typeName: "x.Y", fields: [{ fieldKind: "scalar", scalar: 99, toString: () => "field x.Y.s" }] } as unknown as DescMessage;
    expect(decoderCoverage(kind)).toEqual({ covered: false, reason: "field x.Y.z: field kind future is not known to the decoder" });
    expect(decoderCoverage(scalar)).toEqual({ covered: false, reason: "field x.Y.s: scalar type 99 is not known to the decoder" });
  });
});
