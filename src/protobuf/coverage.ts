// Which message types the encoder covers: every field kind and scalar type protobuf-es
// v2 encodes. A schema is reported uncovered, with the reason, only when it holds
// something this encoder does not know (a field kind or scalar type added to
// protobuf-es later); callers then keep using toBinary for it.

import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { scalarCodec } from "./scalars.js";

/** Whether a message type (with every type it reaches) is fully covered. */
export type EncoderCoverage = { covered: true } | { covered: false; reason: string };

const known = new Set(["scalar", "enum", "message", "list", "map"]);

/** Covered, or the first reason a message type is not. */
export function encoderCoverage(schema: DescMessage): EncoderCoverage {
  const seen = new Set<DescMessage>();
  const pending = [schema];
  for (let desc = pending.pop(); desc !== undefined; desc = pending.pop()) {
    if (seen.has(desc)) continue;
    seen.add(desc);
    for (const field of desc.fields) {
      const reason = uncovered(field);
      if (reason !== undefined) return { covered: false, reason };
      const child = (field as { message?: DescMessage }).message;
      if (child !== undefined) pending.push(child);
    }
  }
  return { covered: true };
}

function uncovered(field: DescField): string | undefined {
  if (!known.has(field.fieldKind)) return `${String(field)}: field kind ${field.fieldKind} is not known to the encoder`;
  const f = field as { scalar?: number; mapKey?: number };
  for (const type of [f.scalar, f.mapKey]) {
    if (type !== undefined && scalarCodec(type) === undefined) return `${String(field)}: scalar type ${type} is not known to the encoder`;
  }
  return undefined;
}
