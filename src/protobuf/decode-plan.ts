// The decode plan of a message type, built once per DescMessage: how a fresh message is
// made (the object protobuf-es's create() makes: `$typeName`, then every member in
// declaration order with its zero value, explicit-presence scalars left to the shared
// prototype), the field readers by field number, and the read loop, which is
// protobuf-es's: unknown fields collected in `$unknown` (views, or one copy per message
// under "copy"), recursion counted against recursionLimit. Closures and tables only.

import { create } from "@bufbuild/protobuf";
import type { DescMessage, UnknownField } from "@bufbuild/protobuf";
import { cursor, readTag, readUint32, skipValue, WIRE_END_GROUP } from "./read-cursor.js";
import type { CopyCount } from "./read-cursor.js";
import { fieldReader } from "./decode-fields.js";
import type { FieldReader, MessageRecord } from "./decode-fields.js";

/** What a property of an empty message starts as: a shared constant (a zero or default), or a fresh list, map or oneof. */
const enum Start {
  Constant,
  List,
  Map,
  Oneof,
}

/** Field numbers up to this are looked up in an array, larger ones in a Map. */
const TABLE_MAX = 4096;

/** Reads messages of one type. */
export class DecodePlan {
  readonly typeName: string;
  readonly #descString: string;
  readonly #prototype: object | undefined;
  /** The own properties of an empty message after $typeName, in order, and what each starts as. */
  readonly #names: string[] = [];
  readonly #starts: Start[] = [];
  readonly #constants: unknown[] = [];
  #table: (FieldReader | undefined)[] = [];
  #byNumber: Map<number, FieldReader> | undefined;

  constructor(desc: DescMessage) {
    this.typeName = desc.typeName;
    this.#descString = String(desc);
    // protobuf-es's own empty message is the template: same properties, same order, same prototype.
    const template = create(desc) as MessageRecord;
    const prototype = Object.getPrototypeOf(template) as object;
    this.#prototype = prototype === Object.prototype ? undefined : prototype;
    const kinds = new Map(desc.members.map((m) => [m.localName, m.kind === "oneof" ? Start.Oneof : m.fieldKind === "list" ? Start.List : m.fieldKind === "map" ? Start.Map : Start.Constant]));
    for (const name of Object.keys(template)) {
      if (name === "$typeName") continue;
      this.#names.push(name);
      this.#starts.push(kinds.get(name) ?? Start.Constant);
      this.#constants.push(template[name]);
    }
  }

  /** Plans the fields (after this plan is registered, so recursive types find it). */
  planFields(desc: DescMessage): void {
    const max = desc.fields.reduce((n, f) => Math.max(n, f.number), 0);
    if (max > TABLE_MAX) this.#byNumber = new Map();
    else this.#table = new Array<FieldReader | undefined>(max + 1).fill(undefined);
    for (const field of desc.fields) {
      const read = fieldReader(field, decodePlan);
      if (this.#byNumber !== undefined) this.#byNumber.set(field.number, read);
      else this.#table[field.number] = read;
    }
  }

  /** A message as create(desc) makes it: fresh lists, maps and oneof objects. */
  create(): MessageRecord {
    const message: MessageRecord = this.#prototype === undefined ? {} : (Object.create(this.#prototype) as MessageRecord);
    message.$typeName = this.typeName;
    const names = this.#names;
    const starts = this.#starts;
    const constants = this.#constants;
    for (let i = 0; i < names.length; i++) {
      const start = starts[i];
      message[names[i]] = start === Start.Constant ? constants[i] : start === Start.List ? [] : start === Start.Map ? {} : { case: undefined };
    }
    return message;
  }

  /**
   * Reads fields at the cursor into `message`: up to `end`, or, when `end` is -1, a length
   * prefix and then that many bytes; with `groupNo` (not 0), up to the end-group tag of
   * that field number (or the end of the input: `end` is not used). Field readers call
   * this directly: two stack frames per level of nesting, fewer than fromBinary's.
   */
  readFields(message: MessageRecord, end: number, groupNo: number): void {
    if (groupNo !== 0) {
      end = cursor.len;
    } else if (end < 0) {
      const n = readUint32();
      end = cursor.pos + n;
    }
    if (++cursor.depth > cursor.recursionLimit) this.#tooDeep();
    const initial = message.$unknown as UnknownField[] | undefined;
    const before = initial === undefined ? 0 : initial.length;
    let unknown = initial;
    let tag = 0;
    while (cursor.pos < end) {
      tag = readTag();
      if (groupNo !== 0 && (tag & 7) === WIRE_END_GROUP) break;
      const read = this.#readerOf(tag >>> 3);
      if (read !== undefined) read(message, tag & 7);
      else unknown = readUnknown(unknown, tag);
    }
    if (groupNo !== 0 && ((tag & 7) !== WIRE_END_GROUP || tag >>> 3 !== groupNo)) throw new Error("invalid end group tag");
    endMessage(message, unknown, initial, before);
  }

  #readerOf(no: number): FieldReader | undefined {
    const byNumber = this.#byNumber;
    if (byNumber !== undefined) return byNumber.get(no);
    const table = this.#table;
    return no < table.length ? table[no] : undefined;
  }

  #tooDeep(): never {
    throw new Error(`cannot decode ${this.#descString} from binary: maximum recursion depth of ${cursor.recursionLimit} reached`);
  }
}

/** Skips an unknown field (kept unless readUnknownFields is false); returns the message's list of them. */
function readUnknown(unknown: UnknownField[] | undefined, tag: number): UnknownField[] | undefined {
  const c = cursor;
  const no = tag >>> 3;
  const start = skipValue(tag & 7, no, c.recursionLimit - c.depth);
  if (!c.readUnknownFields) return unknown;
  unknown ??= [];
  unknown.push({ no, wireType: tag & 7, data: c.buf.subarray(start, c.pos) });
  return unknown;
}

/**
 * A message's fields are read: its unknown fields are set (protobuf-es sets the list it
 * started with, so a closed enum's list made meanwhile is replaced when there are
 * others), copied under "copy" (those added by this read), and the depth is left.
 */
function endMessage(message: MessageRecord, unknown: UnknownField[] | undefined, initial: UnknownField[] | undefined, before: number): void {
  if (unknown !== undefined && unknown.length > 0) message.$unknown = unknown;
  if (cursor.copy) {
    const kept = message.$unknown as UnknownField[] | undefined;
    if (kept !== undefined) copyUnknown(kept, kept === initial ? before : 0, cursor.counts);
  }
  cursor.depth--;
}

/**
 * Unknown fields of a message, from index `from` on, copied in one piece (one buffer; each
 * field a view of its part), counted as one copy (a copy per field cost an ArrayBuffer
 * each: 1.4 M of them for 4 MiB of unknown fields). src/connect/decode.ts uses it after
 * fromBinary too.
 */
export function copyUnknown(unknown: UnknownField[], from: number, counts: CopyCount | undefined): void {
  if (unknown.length <= from) return;
  let total = 0;
  for (let i = from; i < unknown.length; i++) total += unknown[i].data.byteLength;
  const copy = new Uint8Array(total);
  let at = 0;
  for (let i = from; i < unknown.length; i++) {
    const u = unknown[i];
    const n = u.data.byteLength;
    copy.set(u.data, at);
    (u as { data: Uint8Array }).data = copy.subarray(at, at + n);
    at += n;
  }
  if (counts !== undefined) {
    counts.copies++;
    counts.copiedBytes += total;
  }
}

const plans = new WeakMap<DescMessage, DecodePlan>();

/** The decode plan of a message type, built on first use. */
export function decodePlan(desc: DescMessage): DecodePlan {
  let plan = plans.get(desc);
  if (plan === undefined) {
    plan = new DecodePlan(desc);
    plans.set(desc, plan);
    plan.planFields(desc);
  }
  return plan;
}
