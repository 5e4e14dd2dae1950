// The encoder against toBinary on random messages of every type of this project's own
// protos (bench, market, orders, CLI echo), the messages the transport sends: compared
// byte for byte and round-tripped (check.ts).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MessageArbitraries } from "./arbitrary.js";
import { checkEncoding } from "./check.js";
import { projectMessages } from "./schemas.js";

/** Random messages per type (about 20 types). */
const RUNS = 4_500;

describe("encoder = toBinary on this project's messages", () => {
  const arbitraries = new MessageArbitraries({ depth: 2, fieldsSet: 4, maxItems: 4, unknownFields: true });
  for (const schema of projectMessages) {
    it(`${schema.typeName}: ${RUNS} random messages`, () => {
      let nonEmpty = 0;
      fc.assert(
        fc.property(arbitraries.message(schema), (message) => {
          if (checkEncoding(schema, message).length > 0) nonEmpty++;
        }),
        { numRuns: RUNS },
      );
      expect(nonEmpty).toBeGreaterThan(RUNS / 2);
    });
  }
});
