// Which message types the encoder and the decoder cover: every field kind and scalar type
// protobuf-es v2 has. A schema is reported uncovered, with the reason, only when it holds
// something they do not know (a field kind or scalar type added to protobuf-es later);
// callers then keep using toBinary / fromBinary for it.

import type { DescField, DescMessage, ScalarType } from "@bufbuild/protobuf";
import { scalarReader } from "./read-scalars.js";
import { scalarCodec } from "./scalars.js";

/** Whether a message type (with every type it reaches) is fully covered. */
export type EncoderCoverage = { covered: true } | { covered: false; reason: string };
/** Whether a message type (with every type it reaches) is fully covered by the decoder. */
export type DecoderCoverage = EncoderCoverage;

const known = new Set(["scalar", "enum", "message", "list", "map"]);

/** Covered by the encoder, or the first reason a message type is not. */
export function encoderCoverage(schema: DescMessage): EncoderCoverage {
  return coverage(schema, "encoder", (type) => scalarCodec(type) !== undefined);
}

/** Covered by the decoder, or the first reason a message type is not. */
export function decoderCoverage(schema: DescMessage): DecoderCoverage {
  return coverage(schema, "decoder", (type) => scalarReader(type, false, false) !== undefined);
}

function coverage(schema: DescMessage, who: string, knowsScalar: (type: ScalarType) => boolean): EncoderCoverage {
  const seen = new Set<DescMessage>();
  const pending = [schema];
  for (let desc = pending.pop(); desc !== undefined; desc = pending.pop()) {
    if (seen.has(desc)) continue;
    seen.add(desc);
    for (const field of desc.fields) {
      const reason = uncovered(field, who, knowsScalar);
      if (reason !== undefined) return { covered: false, reason };
      const child = (field as { message?: DescMessage }).message;
      if (child !== undefined) pending.push(child);
    }
  }
  return { covered: true };
}

function uncovered(field: DescField, who: string, knowsScalar: (type: ScalarType) => boolean): string | undefined {
  if (!known.has(field.fieldKind)) return `${String(field)}: field kind ${field.fieldKind} is not known to the ${who}`;
  const f = field as { scalar?: ScalarType; mapKey?: ScalarType };
  for (const type of [f.scalar, f.mapKey]) {
    if (type !== undefined && !knowsScalar(type)) return `${String(field)}: scalar type ${type} is not known to the ${who}`;
  }
  return undefined;
}
