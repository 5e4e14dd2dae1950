// google.protobuf.Struct kept as a JSON object (protobuf-es does this for every field of
// type Struct outside google.protobuf.Value): written straight from the JSON, as the
// Struct, Value and ListValue messages toBinary builds from it would be written. Keys in
// Object.keys order; a number is a double, null is NULL_VALUE, an array a ListValue, an
// object a Struct, and anything else (undefined, a bigint, a function) an empty Value.

import type { ContentPlan } from "./content.js";
import { delimitedSize, writeDelimited } from "./content.js";
import { scalarCodec } from "./scalars.js";
import { ScalarType } from "@bufbuild/protobuf";
import { messageChanged } from "./errors.js";
import { writeDouble } from "./fixed.js";
import { lengths, nextLength, reserveLength } from "./lengths.js";
import { varint32Size, writeVarint32 } from "./varint.js";

const string = scalarCodec(ScalarType.STRING)!;

// Tags: Struct.fields = 1 and ListValue.values = 1 (messages), map entry key = 1 and
// value = 2, Value.null_value = 1, number_value = 2, string_value = 3, bool_value = 4,
// struct_value = 5, list_value = 6.
const TAG_FIELD_1_MESSAGE = 0x0a;
const TAG_ENTRY_KEY = 0x0a;
const TAG_ENTRY_VALUE = 0x12;
const TAG_NULL = 0x08;
const TAG_NUMBER = 0x11;
const TAG_STRING = 0x1a;
const TAG_BOOL = 0x20;
const TAG_STRUCT = 0x2a;
const TAG_LIST = 0x32;

function isObject(json: unknown): json is Record<string, unknown> {
  return json !== null && typeof json === "object" && !Array.isArray(json);
}

/** A Struct given as a JSON object. */
export const structContent: ContentPlan = {
  size(json) {
    if (!isObject(json)) return 0;
    let n = 0;
    const keys = Object.keys(json);
    for (let i = 0; i < keys.length; i++) {
      // One entry of the map Struct.fields: key = 1, value = 2.
      const slot = reserveLength();
      const entry = 1 + string.size(keys[i]) + 1 + delimitedSize(valueContent, json[keys[i]]);
      lengths.slots[slot] = entry;
      n += 1 + varint32Size(entry) + entry;
    }
    return n;
  },
  write(json, target, pos) {
    if (!isObject(json)) return pos;
    const keys = Object.keys(json);
    for (let i = 0; i < keys.length; i++) {
      target[pos] = TAG_FIELD_1_MESSAGE;
      const n = nextLength();
      const start = writeVarint32(target, pos + 1, n);
      target[start] = TAG_ENTRY_KEY;
      pos = string.write(keys[i], target, start + 1);
      target[pos] = TAG_ENTRY_VALUE;
      pos = writeDelimited(valueContent, json[keys[i]], target, pos + 1);
      if (pos - start !== n) messageChanged();
    }
    return pos;
  },
};

/** A ListValue given as a JSON array. */
const listContent: ContentPlan = {
  size(json) {
    const items = json as unknown[];
    let n = 0;
    for (let i = 0; i < items.length; i++) n += 1 + delimitedSize(valueContent, items[i]);
    return n;
  },
  write(json, target, pos) {
    const items = json as unknown[];
    for (let i = 0; i < items.length; i++) {
      target[pos] = TAG_FIELD_1_MESSAGE;
      pos = writeDelimited(valueContent, items[i], target, pos + 1);
    }
    return pos;
  },
};

/** A Value given as any JSON value: the one member of its oneof `kind` that is set. */
const valueContent: ContentPlan = {
  size(json) {
    switch (typeof json) {
      case "number":
        return 9;
      case "string":
        return 1 + string.size(json);
      case "boolean":
        return 2;
      case "object":
        if (json === null) return 2;
        return 1 + delimitedSize(Array.isArray(json) ? listContent : structContent, json);
      default:
        return 0;
    }
  },
  write(json, target, pos) {
    switch (typeof json) {
      case "number":
        target[pos] = TAG_NUMBER;
        return writeDouble(target, pos + 1, json);
      case "string":
        target[pos] = TAG_STRING;
        return string.write(json, target, pos + 1);
      case "boolean":
        target[pos] = TAG_BOOL;
        target[pos + 1] = json ? 1 : 0;
        return pos + 2;
      case "object":
        if (json === null) {
          target[pos] = TAG_NULL;
          target[pos + 1] = 0;
          return pos + 2;
        }
        target[pos] = Array.isArray(json) ? TAG_LIST : TAG_STRUCT;
        return writeDelimited(Array.isArray(json) ? listContent : structContent, json, target, pos + 1);
      default:
        return pos;
    }
  },
};
