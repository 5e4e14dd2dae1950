// The decode plan of a message type, built once per DescMessage: how a fresh message is
// made (the object protobuf-es's create() makes: `$typeName`, then every member in
// declaration order with its zero value, explicit-presence scalars left to the shared
// prototype), the field readers by field number, and the read loop, which is
// protobuf-es's: unknown fields collected in `$unknown` (views, or one copy per message
// under "copy"), recursion counted against recursionLimit. Closures and tables only.

import { create } from "@bufbuild/protobuf";
import type { DescMessage, UnknownField } from "@bufbuild/protobuf";
import { cursor, readTag, skipValue, WIRE_END_GROUP } from "./read-cursor.js";
import type { CopyCount } from "./read-cursor.js";
import { fieldReader } from "./decode-fields.js";
import type { FieldReader, MessageRecord } from "./decode-fields.js";

/** Field numbers up to this are looked up in an array, larger ones in a Map. */
const TABLE_MAX = 4096;

/** Reads messages of one type. */
export class DecodePlan {
  readonly typeName: string;
  readonly #descString: string;
  readonly #template: MessageRecord;
  readonly #prototype: object | undefined;
  readonly #lists: string[] = [];
  readonly #maps: string[] = [];
  readonly #oneofs: string[] = [];
  #table: (FieldReader | undefined)[] = [];
  #byNumber: Map<number, FieldReader> | undefined;

  constructor(desc: DescMessage) {
    this.typeName = desc.typeName;
    this.#descString = String(desc);
    // protobuf-es's own empty message is the template: same properties, same order, same prototype.
    this.#template = create(desc) as MessageRecord;
    const prototype = Object.getPrototypeOf(this.#template) as object;
    this.#prototype = prototype === Object.prototype ? undefined : prototype;
    for (const member of desc.members) {
      if (member.kind === "oneof") this.#oneofs.push(member.localName);
      else if (member.fieldKind === "list") this.#lists.push(member.localName);
      else if (member.fieldKind === "map") this.#maps.push(member.localName);
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
    const message: MessageRecord =
      this.#prototype === undefined ? { ...this.#template } : Object.assign(Object.create(this.#prototype) as MessageRecord, this.#template);
    const lists = this.#lists;
    for (let i = 0; i < lists.length; i++) message[lists[i]] = [];
    const maps = this.#maps;
    for (let i = 0; i < maps.length; i++) message[maps[i]] = {};
    const oneofs = this.#oneofs;
    for (let i = 0; i < oneofs.length; i++) message[oneofs[i]] = { case: undefined };
    return message;
  }

  /** Reads `length` bytes of fields at the cursor into `message`. */
  readBody(message: MessageRecord, length: number): void {
    this.#readFields(message, cursor.pos + length, 0);
  }

  /** Reads fields at the cursor into `message` up to the end-group tag of `fieldNo`. */
  readGroup(message: MessageRecord, fieldNo: number): void {
    this.#readFields(message, cursor.len, fieldNo);
  }

  #readFields(message: MessageRecord, end: number, groupNo: number): void {
    const c = cursor;
    if (++c.depth > c.recursionLimit) {
      throw new Error(`cannot decode ${this.#descString} from binary: maximum recursion depth of ${c.recursionLimit} reached`);
    }
    const table = this.#table;
    const byNumber = this.#byNumber;
    const initial = message.$unknown as UnknownField[] | undefined;
    const before = initial === undefined ? 0 : initial.length;
    let unknown = initial;
    let endTag = -1;
    while (c.pos < end) {
      const tag = readTag();
      const no = tag >>> 3;
      if (groupNo !== 0 && (tag & 7) === WIRE_END_GROUP) {
        endTag = tag;
        break;
      }
      const read = byNumber === undefined ? (no < table.length ? table[no] : undefined) : byNumber.get(no);
      if (read !== undefined) {
        read(message, tag & 7);
        continue;
      }
      const start = skipValue(tag & 7, no, c.recursionLimit - c.depth);
      if (c.readUnknownFields) (unknown ??= []).push({ no, wireType: tag & 7, data: c.buf.subarray(start, c.pos) });
    }
    if (groupNo !== 0 && (endTag < 0 || endTag >>> 3 !== groupNo)) throw new Error("invalid end group tag");
    if (unknown !== undefined && unknown.length > 0) message.$unknown = unknown;
    if (c.copy) {
      const kept = message.$unknown as UnknownField[] | undefined;
      if (kept !== undefined) copyUnknown(kept, kept === initial ? before : 0, c.counts);
    }
    c.depth--;
  }
}

/**
 * Unknown fields read into a message, from index `from` on, copied in one piece (one
 * buffer; each field a view of its part), counted as one copy: as src/connect/decode.ts
 * copies them after fromBinary.
 */
function copyUnknown(unknown: UnknownField[], from: number, counts: CopyCount | undefined): void {
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
