// A target too small for the message: encodeInto throws EncodeRangeError (naming the
// bytes needed and available) and writes nothing at all — checked for every smaller
// size of random messages, through a subarray of a bigger buffer whose bytes around and
// inside the target must keep their sentinel. Then a fuzz of random target lengths and
// offsets: a fit gives toBinary's bytes, a miss throws, and nothing past the end moves.

import fc from "fast-check";
import { toBinary } from "@bufbuild/protobuf";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { encodedSize, encodeInto, EncodeRangeError } from "../../src/protobuf/index.js";
import { MessageArbitraries } from "./arbitrary.js";
import { GUARD, sameBytes } from "./check.js";
import { conformanceExtensions, conformanceMessages, projectMessages } from "./schemas.js";

const GUARD_BYTES = 16;
const schemas: readonly DescMessage[] = [...projectMessages, ...conformanceMessages];
const arbitraries = new MessageArbitraries({ depth: 1, fieldsSet: 4, maxItems: 2, extensions: conformanceExtensions, unknownFields: true });
const anyMessage = fc.constantFrom(...schemas).chain((schema) => arbitraries.message(schema).map((message) => ({ schema, message })));

/** Random messages for which every smaller target is tried. */
const SHRINKING_RUNS = 250;
/** Random (message, target length, offset) triples. */
const FUZZ_RUNS = 3_000;

function refusal(run: () => unknown): EncodeRangeError {
  try {
    run();
  } catch (e) {
    if (e instanceof EncodeRangeError) return e;
    throw e;
  }
  throw new Error("encodeInto did not throw");
}

function untouched(buffer: Uint8Array): boolean {
  return buffer.every((b) => b === GUARD);
}

describe("a target too small for the message", () => {
  it(`every smaller size is refused with nothing written (${SHRINKING_RUNS} random messages)`, () => {
    let sizesTried = 0;
    fc.assert(
      fc.property(anyMessage, fc.boolean(), fc.nat(8), ({ schema, message }, measureFirst, offset) => {
        const n = toBinary(schema, message).length;
        const buffer = new Uint8Array(GUARD_BYTES + offset + n + GUARD_BYTES);
        for (let k = 0; k < n; k++) {
          buffer.fill(GUARD);
          const target = buffer.subarray(GUARD_BYTES, GUARD_BYTES + offset + k);
          if (measureFirst && encodedSize(schema, message as never) !== n) throw new Error(`${schema.typeName}: encodedSize is not ${n}`);
          const e = refusal(() => encodeInto(schema, message as never, target, offset));
          // Plain checks in this loop: expect() per size would dominate the run time.
          if (!(e instanceof RangeError) || e.needed !== n || e.available !== k || !e.message.includes(`needs ${n} bytes, the target has ${k} bytes`)) {
            throw new Error(`${schema.typeName}: a ${k}-byte target for ${n} bytes refused with ${e.name} ${e.message} (${e.needed}/${e.available})`);
          }
          if (!untouched(buffer)) throw new Error(`${schema.typeName}: bytes written into a ${k}-byte target for ${n} bytes`);
          sizesTried++;
        }
        // The exact size fits.
        buffer.fill(GUARD);
        const target = buffer.subarray(GUARD_BYTES, GUARD_BYTES + offset + n);
        expect(encodeInto(schema, message as never, target, offset)).toBe(offset + n);
      }),
      { numRuns: SHRINKING_RUNS },
    );
    expect(sizesTried).toBeGreaterThan(SHRINKING_RUNS * 10);
  });

  it(`fuzz: random target lengths and offsets (${FUZZ_RUNS} runs)`, () => {
    let fits = 0;
    let misses = 0;
    fc.assert(
      fc.property(anyMessage, fc.nat(400), fc.nat(64), ({ schema, message }, length, offset) => {
        const expected = toBinary(schema, message as Message);
        const buffer = new Uint8Array(length + GUARD_BYTES).fill(GUARD);
        const target = buffer.subarray(0, length);
        if (offset <= length && expected.length <= length - offset) {
          const end = encodeInto(schema, message as never, target, offset);
          expect(end).toBe(offset + expected.length);
          expect(sameBytes(target.subarray(offset, end), expected)).toBe(true);
          expect(untouched(buffer.subarray(0, offset)) && untouched(buffer.subarray(end))).toBe(true);
          fits++;
        } else {
          const e = refusal(() => encodeInto(schema, message as never, target, offset));
          expect(e.needed).toBe(expected.length);
          expect(e.available).toBe(Math.max(length - offset, 0));
          expect(untouched(buffer)).toBe(true);
          misses++;
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
    expect(fits).toBeGreaterThan(FUZZ_RUNS / 10);
    expect(misses).toBeGreaterThan(FUZZ_RUNS / 10);
  });

  it("an offset that is not a byte offset is refused", () => {
    const [schema] = projectMessages;
    const message = arbitrariesSample(schema);
    for (const offset of [-1, 1.5, Number.NaN]) {
      expect(() => encodeInto(schema, message as never, new Uint8Array(1024), offset)).toThrow(RangeError);
    }
  });
});

function arbitrariesSample(schema: DescMessage): Message {
  return fc.sample(arbitraries.message(schema), 1)[0];
}
