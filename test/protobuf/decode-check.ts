// The one comparison every decoder test makes: decodeFrom against fromBinary on the same
// bytes, in both modes. Either both throw, or both return messages that are the same
// structurally (shapeDifference: every level's Object.keys in the same order, the
// same prototypes, values equal by Object.is, typed arrays by class and content) and
// equal by protobuf-es `equals` (where fromBinary's message equals itself: not with NaN);
// under "alias" as many non-empty views of the input as fromBinary's has, under "copy" none.

import { equals, fromBinary } from "@bufbuild/protobuf";
import type { BinaryReadOptions, DescMessage, Message } from "@bufbuild/protobuf";
import { decodeFrom } from "../../src/protobuf/index.js";

/** The first difference between two values, as a path and a reason; undefined when they are the same. */
export function shapeDifference(a: unknown, b: unknown, path = "$"): string | undefined {
  if (typeof a !== typeof b) return `${path}: ${typeof a} vs ${typeof b}`;
  if (typeof a !== "object" || a === null || b === null) return Object.is(a, b) ? undefined : `${path}: ${String(a)} vs ${String(b)}`;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${path}: other prototypes`;
  if (a instanceof Uint8Array) {
    const u = b as Uint8Array;
    if (a.length !== u.length || a.some((x, i) => x !== u[i])) return `${path}: bytes differ`;
    return undefined;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.join("\u0000") !== kb.join("\u0000")) return `${path}: keys [${ka.join(",")}] vs [${kb.join(",")}]`;
  for (const k of ka) {
    const d = shapeDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d !== undefined) return d;
  }
  return undefined;
}

function outcome(run: () => Message): { message?: Message; error?: string } {
  try {
    return { message: run() };
  } catch (e) {
    return { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

/** Views of `input` among a message's bytes fields and unknown fields (walks every object). */
export function viewsOf(value: unknown, input: ArrayBufferLike, seen = new Set<unknown>()): number {
  if (typeof value !== "object" || value === null || seen.has(value)) return 0;
  seen.add(value);
  if (value instanceof Uint8Array) return value.buffer === input && value.byteLength > 0 ? 1 : 0;
  let n = 0;
  for (const v of Object.values(value)) n += viewsOf(v, input, seen);
  return n;
}

/**
 * Decodes `bytes` with fromBinary and with decodeFrom in both modes; throws on any
 * difference. Returns fromBinary's message, or undefined when all refused the bytes.
 */
export function checkDecoding(schema: DescMessage, bytes: Uint8Array, options?: Partial<BinaryReadOptions>): Message | undefined {
  const theirs = outcome(() => fromBinary(schema, bytes, options));
  const alias = outcome(() => decodeFrom(schema, bytes, "alias", options));
  const copy = outcome(() => decodeFrom(schema, bytes, "copy", options));
  for (const [mode, ours] of [["alias", alias], ["copy", copy]] as const) {
    if ((theirs.error === undefined) !== (ours.error === undefined)) {
      throw new Error(`${schema.typeName} (${mode}): fromBinary ${theirs.error ?? "decoded"}, ours ${ours.error ?? "decoded"}\n  bytes ${Buffer.from(bytes).toString("hex")}`);
    }
    if (theirs.message === undefined) continue;
    const diff = shapeDifference(ours.message, theirs.message);
    if (diff !== undefined) throw new Error(`${schema.typeName} (${mode}): ${diff}\n  bytes ${Buffer.from(bytes).toString("hex")}`);
    // equals() finds NaN unequal to NaN: where two fromBinary decodes are not equal, neither is ours.
    if (!equals(schema, ours.message as never, theirs.message as never) && equals(schema, fromBinary(schema, bytes, options), theirs.message as never)) {
      throw new Error(`${schema.typeName} (${mode}): not equals()`);
    }
  }
  if (theirs.message !== undefined) {
    const views = viewsOf(theirs.message, bytes.buffer);
    if (viewsOf(alias.message, bytes.buffer) !== views) throw new Error(`${schema.typeName} (alias): not the views fromBinary has (${views})`);
    if (viewsOf(copy.message, bytes.buffer) > 0) throw new Error(`${schema.typeName} (copy): a view of the input is left`);
  }
  return theirs.message;
}
