// Field readers: one occurrence of a field read at the cursor into a message, as
// protobuf-es's fromBinary reads it. The field's wire type is not checked (protobuf-es
// reads a known field by its declared type whatever the tag says), except that a
// length-delimited occurrence of a packable list is read packed. Scalars: last one wins;
// oneofs: a fresh { case, value }; a singular message occurring again is merged into;
// closed enums keep values outside the enum as unknown fields (singular and oneof fields
// only, with protobuf-es's quirk that other unknown fields of the same message replace
// them); lists of enums take any int32; maps as plain objects (keys converted to property
// names, missing key or value as their zero).

import { ScalarType } from "@bufbuild/protobuf";
import type { DescField, DescMessage, UnknownField } from "@bufbuild/protobuf";
import { scalarZeroValue } from "@bufbuild/protobuf/reflect";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { cursor, readTag, readUint32, skipValue, WIRE_LENGTH_DELIMITED } from "./read-cursor.js";
import { readInt32, scalarReader } from "./read-scalars.js";
import type { ScalarReader } from "./read-scalars.js";
import { setOwn, structToLocal, structToMessage } from "./decode-struct.js";

/** A message as the readers write it. */
export type MessageRecord = Record<string, unknown>;

/** Reads one occurrence of a field into a message. */
export type FieldReader = (message: MessageRecord, wireType: number) => void;

/** What reads messages of a type (decode-plan.ts). */
export interface MessageReader {
  create(): MessageRecord;
  /** Reads up to `end` (-1: a length prefix first), or up to the end-group tag of `groupNo` when not 0. */
  readFields(message: MessageRecord, end: number, groupNo: number): void;
}

export type PlanOf = (desc: DescMessage) => MessageReader;

/** A message-typed value as protobuf-es keeps it: the message, a bare wrapper value, or JSON (Struct). */
interface MessageMapper {
  toMessage(local: unknown): MessageRecord;
  toLocal(message: MessageRecord): unknown;
}

/** The reader of one field. */
export function fieldReader(field: DescField, planOf: PlanOf): FieldReader {
  switch (field.fieldKind) {
    case "scalar":
      return assign(field, readerOf(field.scalar, field.utf8Validation, field.longAsString));
    case "enum":
      return field.enum.open ? assign(field, readInt32) : closedEnum(field);
    case "message":
      return messageField(field, planOf);
    case "list":
      return field.listKind === "message" ? messageList(field, planOf) : scalarList(field);
    case "map":
      return mapField(field, planOf);
  }
}

function readerOf(type: ScalarType, validate: boolean, longAsString: boolean): ScalarReader {
  const read = scalarReader(type, validate, longAsString);
  if (read === undefined) throw new Error(`decoder: unknown scalar type ${type}`);
  return read;
}

/** A singular scalar: the property, or the oneof's { case, value }. */
function assign(field: DescField, read: ScalarReader): FieldReader {
  const name = field.localName;
  if (field.oneof !== undefined) {
    const oneof = field.oneof.localName;
    return (message) => {
      message[oneof] = { case: name, value: read() };
    };
  }
  return (message) => {
    message[name] = read();
  };
}

/** A closed enum: a known value is assigned, another one kept in `$unknown` (re-encoded as a varint). */
function closedEnum(field: DescField & { fieldKind: "enum" }): FieldReader {
  const known = new Set(field.enum.values.map((v) => v.number));
  const set = assign(field, () => value);
  const no = field.number;
  let value = 0;
  return (message, wireType) => {
    value = readInt32() as number;
    if (known.has(value)) {
      set(message, wireType);
    } else if (cursor.readUnknownFields) {
      const unknown = (message.$unknown as UnknownField[] | undefined) ?? [];
      unknown.push({ no, wireType, data: varint32Bytes(value) });
      message.$unknown = unknown;
    }
  };
}

/** An int32 as protobuf-es's varint32write writes it (negative: 10 bytes, sign-extended). */
function varint32Bytes(value: number): Uint8Array {
  const bytes: number[] = [];
  if (value >= 0) {
    while (value > 0x7f) {
      bytes.push((value & 0x7f) | 0x80);
      value >>>= 7;
    }
    bytes.push(value);
  } else {
    for (let i = 0; i < 9; i++) {
      bytes.push((value & 0x7f) | 0x80);
      value >>= 7;
    }
    bytes.push(1);
  }
  return new Uint8Array(bytes);
}

/** protobuf-es keeps a Struct as JSON (except inside google.protobuf.Value) and a singular wrapper outside a oneof as its value. */
function mapperOf(field: DescField & { message: DescMessage }, planOf: PlanOf): MessageMapper {
  const desc = field.message;
  if (desc.typeName === "google.protobuf.Struct" && field.parent.typeName !== "google.protobuf.Value") {
    return { toMessage: (local) => (local === undefined ? planOf(desc).create() : structToMessage(local)), toLocal: structToLocal };
  }
  if (field.fieldKind === "message" && field.oneof === undefined && isWrapperDesc(desc)) {
    const value = desc.fields[0].localName;
    return {
      toMessage(local) {
        const message = planOf(desc).create();
        if (local !== undefined) message[value] = local;
        return message;
      },
      toLocal: (message) => message[value],
    };
  }
  return {
    toMessage: (local) => (local === undefined ? planOf(desc).create() : (local as MessageRecord)),
    toLocal: (message) => message,
  };
}

/** Where a message field's value ends: a length prefix (-1), or an end-group tag (delimited encoding). */
function endOf(field: DescField & { delimitedEncoding: boolean }): [end: number, groupNo: number] {
  return field.delimitedEncoding ? [0, field.number] : [-1, 0];
}

function messageField(field: DescField & { fieldKind: "message" }, planOf: PlanOf): FieldReader {
  const name = field.localName;
  const { toMessage, toLocal } = mapperOf(field, planOf);
  const [end, groupNo] = endOf(field);
  const desc = field.message;
  let plan: MessageReader | undefined;
  if (field.oneof !== undefined) {
    const oneof = field.oneof.localName;
    return (message) => {
      const adt = message[oneof] as { case: unknown; value?: unknown };
      const child = toMessage(adt.case === name ? adt.value : undefined);
      (plan ??= planOf(desc)).readFields(child, end, groupNo);
      message[oneof] = { case: name, value: toLocal(child) };
    };
  }
  return (message) => {
    const child = toMessage(message[name]);
    (plan ??= planOf(desc)).readFields(child, end, groupNo);
    message[name] = toLocal(child);
  };
}

function messageList(field: DescField & { fieldKind: "list"; message: DescMessage }, planOf: PlanOf): FieldReader {
  const name = field.localName;
  const { toMessage, toLocal } = mapperOf(field, planOf);
  const [end, groupNo] = endOf(field);
  const desc = field.message;
  let plan: MessageReader | undefined;
  return (message) => {
    const child = toMessage(undefined);
    (plan ??= planOf(desc)).readFields(child, end, groupNo);
    (message[name] as unknown[]).push(toLocal(child));
  };
}

function scalarList(field: DescField & { fieldKind: "list" }): FieldReader {
  const name = field.localName;
  const type = field.listKind === "enum" ? ScalarType.INT32 : field.scalar!;
  const read = readerOf(type, field.utf8Validation, field.listKind === "scalar" && field.longAsString);
  const packable = type !== ScalarType.STRING && type !== ScalarType.BYTES;
  return (message, wireType) => {
    const items = message[name] as unknown[];
    if (wireType === WIRE_LENGTH_DELIMITED && packable) {
      const end = readUint32() + cursor.pos;
      while (cursor.pos < end) items.push(read());
    } else {
      items.push(read());
    }
  };
}

function mapField(field: DescField & { fieldKind: "map" }, planOf: PlanOf): FieldReader {
  const name = field.localName;
  const readKey = readerOf(field.mapKey, field.utf8Validation, false);
  const zeroKey = String(scalarZeroValue(field.mapKey, false));
  let readValue: (existing: unknown) => unknown;
  let zeroValue: () => unknown;
  switch (field.mapKind) {
    case "scalar": {
      const read = readerOf(field.scalar, field.utf8Validation, false);
      readValue = read;
      if (field.scalar === ScalarType.BYTES) {
        zeroValue = () => new Uint8Array(0);
      } else {
        const zero = scalarZeroValue(field.scalar, false);
        zeroValue = () => zero;
      }
      break;
    }
    case "enum": {
      const zero = field.enum.values[0].number;
      readValue = readInt32;
      zeroValue = () => zero;
      break;
    }
    case "message": {
      const { toMessage, toLocal } = mapperOf(field, planOf);
      const desc = field.message;
      let plan: MessageReader | undefined;
      // A value occurring twice in one entry is merged, like any singular message field.
      readValue = (existing) => {
        const child = toMessage(existing);
        (plan ??= planOf(desc)).readFields(child, -1, 0);
        return toLocal(child);
      };
      zeroValue = () => toLocal(toMessage(undefined));
      break;
    }
  }
  return (message) => {
    const record = message[name] as Record<string, unknown>;
    let key: unknown;
    let value: unknown;
    const length = readUint32();
    const end = cursor.pos + length;
    while (cursor.pos < end) {
      const tag = readTag();
      switch (tag >>> 3) {
        case 1:
          key = readKey();
          break;
        case 2:
          value = readValue(value);
          break;
        default:
          skipValue(tag & 7, tag >>> 3, cursor.recursionLimit - cursor.depth);
      }
    }
    const property = key === undefined ? zeroKey : String(key);
    if (value === undefined) value = zeroValue();
    setOwn(record, property, value);
  };
}
