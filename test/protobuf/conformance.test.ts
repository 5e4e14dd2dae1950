// The encoder against toBinary on random messages of the Protobuf conformance types
// (proto2, proto3, editions 2023): every field kind, scalar type and presence rule,
// groups, wrappers, Structs, unknown fields and extensions, nested two levels deep. Each
// message is compared byte for byte and round-tripped (check.ts). Legacy required fields:
// set, they are written; missing, both encoders refuse the message in the same words.

import fc from "fast-check";
import type { Message } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { MessageArbitraries } from "./arbitrary.js";
import { checkEncoding, checkRefused } from "./check.js";
import { conformanceExtensions, conformanceMessages, requiredCycles, requiredScalars } from "./schemas.js";

/** Random messages per TestAllTypes variant (5 variants). */
const RUNS = 2_500;
/** Random messages per required-field type (2 types of each kind). */
const REQUIRED_RUNS = 1_000;

const arbitraries = new MessageArbitraries({ depth: 2, fieldsSet: 8, maxItems: 3, extensions: conformanceExtensions, unknownFields: true });

describe("encoder = toBinary on the conformance messages", () => {
  for (const schema of conformanceMessages) {
    it(`${schema.typeName}: ${RUNS} random messages`, () => {
      let bytes = 0;
      fc.assert(
        fc.property(arbitraries.message(schema), (message) => {
          bytes += checkEncoding(schema, message).length;
        }),
        { numRuns: RUNS },
      );
      // The messages were not all empty: the comparison saw real content.
      expect(bytes / RUNS).toBeGreaterThan(20);
    });
  }
});

describe("legacy required fields", () => {
  for (const schema of requiredScalars) {
    it(`${schema.typeName}: written when set, refused alike when one is missing (${REQUIRED_RUNS} messages)`, () => {
      const required = schema.fields.filter((f) => f.presence === 3);
      expect(required.length).toBeGreaterThan(0);
      fc.assert(
        fc.property(arbitraries.message(schema), fc.nat(), (message, pick) => {
          checkEncoding(schema, message);
          const missing = { ...message } as Message & Record<string, unknown>;
          delete missing[required[pick % required.length].localName];
          expect(checkRefused(schema, missing)).toMatch(/required field not set/);
        }),
        { numRuns: REQUIRED_RUNS },
      );
    });
  }
  for (const schema of requiredCycles) {
    it(`${schema.typeName}: a required cycle is refused alike (${REQUIRED_RUNS / 2} messages)`, () => {
      fc.assert(
        fc.property(arbitraries.message(schema), (message) => {
          expect(checkRefused(schema, message)).toMatch(/required field not set/);
        }),
        { numRuns: REQUIRED_RUNS / 2 },
      );
    });
  }
});
