// Field plans: when a field is written and how many times, as toBinary decides it: oneof
// members when their case is set; explicit presence when the property is the message's
// own (proto2 defaults live on the prototype) and legacy required fields are checked;
// implicit presence when the value is not zero; lists expanded or packed per field; maps
// as entries in Object.keys order, key and value always written.

import { create, ScalarType } from "@bufbuild/protobuf";
import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import type { ContentPlan } from "./content.js";
import { delimitedSize, writeDelimited } from "./content.js";
import { FieldValueError, messageChanged } from "./errors.js";
import { enumCodec, implicitTest, scalarCodec, WIRE_LENGTH_DELIMITED } from "./scalars.js";
import type { ScalarCodec } from "./scalars.js";
import { structContent } from "./struct-json.js";
import type { ValuePlan } from "./values.js";
import { delimitedValue, groupValue, scalarValue, tagOf } from "./values.js";
import { varint32Size, writeVarint32 } from "./varint.js";
import { lengths, nextLength, reserveLength } from "./lengths.js";

/** A message as the plans read it. */
export type MessageRecord = Record<string, unknown>;

/** Sizes and writes one field of a message (nothing when the field is not set). */
export interface FieldPlan {
  size(message: MessageRecord): number;
  write(message: MessageRecord, target: Uint8Array, pos: number): number;
}

/** The content plan of a message type (message-plan.ts), resolved lazily for recursive types. */
export type PlanOf = (desc: DescMessage) => ContentPlan;

// google.protobuf.FeatureSet.FieldPresence
const IMPLICIT = 2;
const LEGACY_REQUIRED = 3;
const hasOwn = Object.prototype.hasOwnProperty;

/** The plan of one field. */
export function fieldPlan(field: DescField, planOf: PlanOf): FieldPlan {
  switch (field.fieldKind) {
    case "scalar":
    case "enum":
    case "message":
      return singularField(field, planOf);
    case "list":
      return listField(field, planOf);
    case "map":
      return mapField(field, planOf);
  }
}

function codecOf(field: { scalar?: ScalarType; fieldKind: string; listKind?: string; mapKind?: string }): ScalarCodec {
  const isEnum = field.fieldKind === "enum" || field.listKind === "enum" || field.mapKind === "enum";
  const codec = isEnum ? enumCodec : scalarCodec(field.scalar!);
  if (codec === undefined) throw new Error(`encoder: unknown scalar type ${String(field.scalar)}`);
  return codec;
}

/**
 * The content of a message-typed field: protobuf-es keeps a Struct as JSON (except inside
 * google.protobuf.Value), and a singular wrapper outside a oneof as its bare value.
 */
function contentOf(field: DescField & { message: DescMessage }, planOf: PlanOf): ContentPlan {
  if (field.message.typeName === "google.protobuf.Struct" && field.parent.typeName !== "google.protobuf.Value") {
    return structContent;
  }
  if (field.fieldKind === "message" && field.oneof === undefined && isWrapperDesc(field.message)) {
    return wrapperContent(field.message.fields[0]);
  }
  return messageContent(field.message, planOf);
}

/** A message; `undefined` (a list item, map value or oneof value left out) is an empty message, as toBinary has it. */
function messageContent(desc: DescMessage, planOf: PlanOf): ContentPlan {
  let plan: ContentPlan | undefined;
  let empty: unknown;
  return {
    size(value) {
      plan ??= planOf(desc);
      return plan.size(value === undefined ? (empty ??= emptyMessage(desc)) : value);
    },
    write(value, target, pos) {
      plan ??= planOf(desc);
      return plan.write(value === undefined ? (empty ??= emptyMessage(desc)) : value, target, pos);
    },
  };
}

function emptyMessage(desc: DescMessage): unknown {
  return create(desc);
}

/** A wrapper message kept as its bare value: its one field, written when not zero. */
function wrapperContent(inner: DescField): ContentPlan {
  const codec = codecOf(inner);
  const value = scalarValue(inner.number, codec);
  const isSet = implicitTest(inner.scalar!);
  return {
    size: (v) => (isSet(v) ? value.size(v) : 0),
    write: (v, target, pos) => (isSet(v) ? value.write(v, target, pos) : pos),
  };
}

function singularValue(field: DescField, planOf: PlanOf): ValuePlan {
  if (field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")) {
    const content = contentOf(field as DescField & { message: DescMessage }, planOf);
    return field.delimitedEncoding ? groupValue(field.number, content) : delimitedValue(field.number, content);
  }
  return scalarValue(field.number, codecOf(field as Parameters<typeof codecOf>[0]));
}

function singularField(field: DescField, planOf: PlanOf): FieldPlan {
  const value = singularValue(field, planOf);
  const name = field.localName;
  if (field.oneof !== undefined) {
    const oneof = field.oneof.localName;
    return {
      size(message) {
        const adt = message[oneof] as { case: unknown; value: unknown };
        return adt.case === name ? value.size(adt.value) : 0;
      },
      write(message, target, pos) {
        const adt = message[oneof] as { case: unknown; value: unknown };
        return adt.case === name ? value.write(adt.value, target, pos) : pos;
      },
    };
  }
  if (field.presence !== IMPLICIT) {
    const required = field.presence === LEGACY_REQUIRED ? `cannot encode ${String(field)} to binary: required field not set` : undefined;
    return {
      size(message) {
        const v = message[name];
        if (v !== undefined && hasOwn.call(message, name)) return value.size(v);
        if (required !== undefined) throw new FieldValueError(required);
        return 0;
      },
      write(message, target, pos) {
        const v = message[name];
        return v !== undefined && hasOwn.call(message, name) ? value.write(v, target, pos) : pos;
      },
    };
  }
  const isSet =
    field.fieldKind === "enum" ? enumTest(field.enum.values[0].number) : implicitTest((field as { scalar: ScalarType }).scalar);
  return {
    size(message) {
      const v = message[name];
      return isSet(v) ? value.size(v) : 0;
    },
    write(message, target, pos) {
      const v = message[name];
      return isSet(v) ? value.write(v, target, pos) : pos;
    },
  };
}

function enumTest(zero: number): (value: unknown) => boolean {
  return (value) => value !== zero;
}

function listField(field: DescField & { fieldKind: "list" }, planOf: PlanOf): FieldPlan {
  const name = field.localName;
  if (field.listKind !== "message" && field.packed) return packedList(name, field.number, codecOf(field));
  const value = singularValue(field, planOf);
  return {
    size(message) {
      const items = message[name] as unknown[];
      let n = 0;
      for (let i = 0; i < items.length; i++) n += value.size(items[i]);
      return n;
    },
    write(message, target, pos) {
      const items = message[name] as unknown[];
      for (let i = 0; i < items.length; i++) pos = value.write(items[i], target, pos);
      return pos;
    },
  };
}

/** A packed list: one tag, the length of all values, the values (nothing for an empty list). */
function packedList(name: string, fieldNumber: number, codec: ScalarCodec): FieldPlan {
  const tag = tagOf(fieldNumber, WIRE_LENGTH_DELIMITED);
  const tagSize = varint32Size(tag);
  const content: ContentPlan = {
    size(items) {
      const list = items as unknown[];
      let n = 0;
      for (let i = 0; i < list.length; i++) n += codec.size(list[i]);
      return n;
    },
    write(items, target, pos) {
      const list = items as unknown[];
      for (let i = 0; i < list.length; i++) pos = codec.write(list[i], target, pos);
      return pos;
    },
  };
  return {
    size(message) {
      const items = message[name] as unknown[];
      return items.length === 0 ? 0 : tagSize + delimitedSize(content, items);
    },
    write(message, target, pos) {
      const items = message[name] as unknown[];
      return items.length === 0 ? pos : writeDelimited(content, items, target, writeVarint32(target, pos, tag));
    },
  };
}

/** Map keys are object keys (strings); converted back as toBinary converts them. */
function keyConverter(type: ScalarType): ((key: string) => unknown) | undefined {
  switch (type) {
    case ScalarType.STRING:
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      // 64-bit keys: the codec parses the decimal string itself, as BigInt() would.
      return undefined;
    case ScalarType.BOOL:
      return (key) => (key === "true" ? true : key === "false" ? false : key);
    default:
      return (key) => {
        const n = Number.parseInt(key);
        return Number.isFinite(n) ? n : key;
      };
  }
}

function mapField(field: DescField & { fieldKind: "map" }, planOf: PlanOf): FieldPlan {
  const name = field.localName;
  const entryTag = tagOf(field.number, WIRE_LENGTH_DELIMITED);
  const entryTagSize = varint32Size(entryTag);
  const key = scalarValue(1, scalarCodec(field.mapKey)!);
  const convert = keyConverter(field.mapKey);
  const value =
    field.mapKind === "message"
      ? delimitedValue(2, contentOf(field as DescField & { message: DescMessage }, planOf))
      : scalarValue(2, codecOf(field));
  return {
    size(message) {
      const record = message[name] as Record<string, unknown>;
      const keys = Object.keys(record);
      let n = 0;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        const slot = reserveLength();
        const entry = key.size(convert === undefined ? k : convert(k)) + value.size(record[k]);
        lengths.slots[slot] = entry;
        n += entryTagSize + varint32Size(entry) + entry;
      }
      return n;
    },
    write(message, target, pos) {
      const record = message[name] as Record<string, unknown>;
      const keys = Object.keys(record);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        const n = nextLength();
        const start = writeVarint32(target, writeVarint32(target, pos, entryTag), n);
        pos = value.write(record[k], target, key.write(convert === undefined ? k : convert(k), target, start));
        if (pos - start !== n) messageChanged();
      }
      return pos;
    },
  };
}
