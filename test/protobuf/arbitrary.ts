// fast-check arbitraries of protobuf-es messages, built generically from a DescMessage:
// every field kind and scalar type, explicit presence set or not (explicit zero values
// included), implicit zeros, oneofs, lists, maps with every key type, open enums with
// unknown values, 64-bit values as bigint or string (per jstype), wrappers kept bare,
// Structs kept as JSON, unknown fields, extensions, and recursion bounded by a depth.

import fc from "fast-check";
import { create, ScalarType, setExtension } from "@bufbuild/protobuf";
import type { DescExtension, DescField, DescMessage, DescFile, Message, UnknownField } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";

/** How messages are generated. */
export interface ArbitraryOptions {
  /** Nesting depth below the top message (message fields are left out below it). */
  depth: number;
  /** Roughly how many fields of a message are set. */
  fieldsSet: number;
  /** Longest list and map. */
  maxItems: number;
  /** Extensions that may be set, by extendee type name. */
  extensions?: ReadonlyMap<string, readonly DescExtension[]>;
  /** Add random unknown fields. */
  unknownFields?: boolean;
}

const INT64_MIN = -(BigInt(1) << BigInt(63));
const INT64_MAX = (BigInt(1) << BigInt(63)) - BigInt(1);
const UINT64_MAX = (BigInt(1) << BigInt(64)) - BigInt(1);
const FLOAT32_MAX = 3.4028234663852886e38;

/** Every UTF-16 code unit, lone surrogates included (TextEncoder writes them as U+FFFD). */
const codeUnits = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 24 }).map((units) => String.fromCharCode(...units));

const strings = fc.oneof(
  { arbitrary: fc.string({ maxLength: 12 }), weight: 4 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 12 }), weight: 2 },
  { arbitrary: codeUnits, weight: 2 },
  // Long enough for the native paths of utf8.ts, ASCII and not.
  { arbitrary: fc.string({ minLength: 60, maxLength: 300 }), weight: 1 },
  { arbitrary: fc.string({ unit: "binary", minLength: 20, maxLength: 200 }), weight: 1 },
);

const bytes = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 40 }), weight: 6 },
  { arbitrary: fc.uint8Array({ minLength: 100, maxLength: 300 }), weight: 1 },
);

/** Scalar values by type; 64-bit ones as bigint (or string when `asString`). */
export function scalarArbitrary(type: ScalarType, asString = false): fc.Arbitrary<unknown> {
  switch (type) {
    case ScalarType.DOUBLE:
      return fc.double();
    case ScalarType.FLOAT:
      // float32 values: a double would be rounded on the wire and come back another value.
      return fc.oneof(fc.float(), fc.double({ min: -FLOAT32_MAX, max: FLOAT32_MAX }).map(Math.fround));
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.oneof(fc.integer({ min: -200, max: 200 }), fc.integer());
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 0xffffffff }));
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64: {
      const big = fc.oneof(fc.bigInt({ min: BigInt(-300), max: BigInt(300) }), fc.bigInt({ min: INT64_MIN, max: INT64_MAX }));
      return asString ? big.map(String) : big;
    }
    case ScalarType.UINT64:
    case ScalarType.FIXED64: {
      const big = fc.oneof(fc.bigInt({ min: BigInt(0), max: BigInt(300) }), fc.bigInt({ min: BigInt(0), max: UINT64_MAX }));
      return asString ? big.map(String) : big;
    }
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.STRING:
      return strings;
    case ScalarType.BYTES:
      return bytes;
  }
}

/** A map key as protobuf-es keeps it: the object key (a string). */
function mapKeyArbitrary(type: ScalarType): fc.Arbitrary<string> {
  if (type === ScalarType.STRING) return strings;
  return scalarArbitrary(type).map(String);
}

type FieldLike = DescField | DescExtension;

function enumArbitrary(field: FieldLike & { enum: { open: boolean; values: { number: number }[] } }): fc.Arbitrary<unknown> {
  const known = fc.constantFrom(...field.enum.values.map((v) => v.number));
  // A closed enum's unknown values are moved to $unknown by fromBinary: only known ones.
  return field.enum.open ? fc.oneof({ arbitrary: known, weight: 3 }, { arbitrary: fc.integer(), weight: 1 }) : known;
}

/** An object with random keys, built with defineProperty (a "__proto__" key stays a key). */
function objectOf(value: fc.Arbitrary<unknown>, keys: fc.Arbitrary<string>, maxKeys: number): fc.Arbitrary<Record<string, unknown>> {
  return fc.array(fc.tuple(keys, value), { maxLength: maxKeys }).map((entries) => {
    const record: Record<string, unknown> = {};
    for (const [k, v] of entries) Object.defineProperty(record, k, { value: v, enumerable: true, writable: true, configurable: true });
    return record;
  });
}

/** JSON values as a Struct field holds them (a Value: null, number, string, boolean, list, struct). */
const { json } = fc.letrec<{ json: unknown }>((tie) => ({
  json: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.double(),
    fc.string({ maxLength: 8 }),
    fc.boolean(),
    fc.array(tie("json"), { maxLength: 3 }),
    objectOf(tie("json"), fc.string({ maxLength: 6 }), 3),
  ),
}));
const jsonObject: fc.Arbitrary<unknown> = objectOf(json, fc.string({ maxLength: 6 }), 4);

/** Builds arbitraries of messages; one per (type, remaining depth), built on first use. */
export class MessageArbitraries {
  readonly #options: ArbitraryOptions;
  readonly #built = new Map<string, fc.Arbitrary<Message>>();

  constructor(options: ArbitraryOptions) {
    this.#options = options;
  }

  /** Messages of a type with `depth` levels of nesting below them at most. */
  message(desc: DescMessage, depth = this.#options.depth): fc.Arbitrary<Message> {
    const key = `${desc.typeName}/${depth}`;
    let arb = this.#built.get(key);
    if (arb === undefined) {
      // Registered before it is built: recursive types refer to themselves one level down,
      // and the depth bound ends the recursion.
      arb = fc.constant(undefined as unknown as Message);
      this.#built.set(key, arb);
      arb = this.#build(desc, depth);
      this.#built.set(key, arb);
    }
    return arb;
  }

  #build(desc: DescMessage, depth: number): fc.Arbitrary<Message> {
    const members: Record<string, fc.Arbitrary<unknown>> = {};
    const absent = Math.max(1, Math.round(desc.members.length / this.#options.fieldsSet));
    for (const member of desc.members) {
      let arb: fc.Arbitrary<unknown> | undefined;
      if (member.kind === "oneof") {
        const cases = member.fields
          .map((f) => [f, this.#value(f, depth, true)] as const)
          .filter((c): c is readonly [DescField, fc.Arbitrary<unknown>] => c[1] !== undefined)
          .map(([f, value]) => value.map((v) => ({ case: f.localName, value: v })));
        arb = cases.length === 0 ? undefined : fc.oneof(...cases);
      } else if (member.fieldKind === "list") {
        const item = this.#value(member, depth, false);
        if (item !== undefined) arb = fc.array(item, { maxLength: this.#options.maxItems });
      } else if (member.fieldKind === "map") {
        arb = this.#map(member, depth);
      } else {
        arb = this.#value(member, depth, false);
      }
      if (arb === undefined) continue;
      const required = member.kind === "field" && member.presence === 3;
      members[member.localName] = required ? arb : fc.oneof({ arbitrary: fc.constant(undefined), weight: absent }, { arbitrary: arb, weight: 1 });
    }
    const unknown = this.#options.unknownFields ? fc.option(unknownFields(desc), { freq: 4, nil: undefined }) : fc.constant(undefined);
    const extensions = this.#extensions(desc, depth);
    return fc.tuple(fc.record(members), unknown, extensions).map(([init, unknownFields, exts]) => {
      const message = create(desc, init as never) as Message;
      if (unknownFields !== undefined) message.$unknown = unknownFields;
      for (const [ext, value] of exts) setExtension(message, ext as never, value as never);
      return message;
    });
  }

  /** A value of a singular field, list item, oneof member or extension; undefined when depth ran out. */
  #value(field: FieldLike, depth: number, inOneof: boolean): fc.Arbitrary<unknown> | undefined {
    if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")) {
      return enumArbitrary(field as never);
    }
    if (field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar")) {
      return scalarArbitrary(field.scalar!, (field as { longAsString?: boolean }).longAsString);
    }
    const message = (field as { message: DescMessage }).message;
    if (message.typeName === "google.protobuf.Struct" && field.parent?.typeName !== "google.protobuf.Value") return jsonObject;
    if (field.fieldKind === "message" && !inOneof && isWrapperDesc(message)) {
      return scalarArbitrary(message.fields[0].scalar!, message.fields[0].longAsString);
    }
    if (depth <= 0) return undefined;
    return this.message(message, depth - 1);
  }

  #map(field: DescField & { fieldKind: "map" }, depth: number): fc.Arbitrary<unknown> | undefined {
    let value: fc.Arbitrary<unknown> | undefined;
    if (field.mapKind === "enum") value = enumArbitrary(field as never);
    else if (field.mapKind === "scalar") value = scalarArbitrary(field.scalar);
    else if (field.message.typeName === "google.protobuf.Struct") value = jsonObject;
    else if (depth > 0) value = this.message(field.message, depth - 1);
    if (value === undefined) return undefined;
    return objectOf(value, mapKeyArbitrary(field.mapKey), this.#options.maxItems);
  }

  #extensions(desc: DescMessage, depth: number): fc.Arbitrary<[DescExtension, unknown][]> {
    const candidates = this.#options.extensions?.get(desc.typeName) ?? [];
    const arbs = candidates
      .map((ext) => {
        const value = ext.fieldKind === "list" ? this.#listOf(ext, depth) : this.#value(ext, depth, false);
        return value?.map((v) => [ext, v] as [DescExtension, unknown]);
      })
      .filter((a) => a !== undefined);
    if (arbs.length === 0) return fc.constant([]);
    return fc.subarray(arbs, { maxLength: 3 }).chain((chosen) => (chosen.length === 0 ? fc.constant([]) : fc.tuple(...chosen)));
  }

  #listOf(ext: DescExtension, depth: number): fc.Arbitrary<unknown> | undefined {
    const item = this.#value(ext, depth, false);
    return item === undefined ? undefined : fc.array(item, { maxLength: this.#options.maxItems });
  }
}

/** Unknown fields with numbers the message does not use, each with valid wire data. */
function unknownFields(desc: DescMessage): fc.Arbitrary<UnknownField[]> {
  const used = new Set(desc.fields.map((f) => f.number));
  const number = fc.integer({ min: 1, max: 5000 }).filter((n) => !used.has(n) && (n < 19000 || n > 19999));
  const field = fc.oneof(
    fc.tuple(number, fc.bigInt({ min: BigInt(0), max: UINT64_MAX })).map(([no, v]) => ({
      no,
      wireType: WireType.Varint,
      data: new BinaryWriter().uint64(v).finish(),
    })),
    fc.tuple(number, fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([no, data]) => ({ no, wireType: WireType.Bit32, data })),
    fc.tuple(number, fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([no, data]) => ({ no, wireType: WireType.Bit64, data })),
    fc.tuple(number, fc.uint8Array({ maxLength: 20 })).map(([no, data]) => ({
      no,
      wireType: WireType.LengthDelimited,
      data: new BinaryWriter().bytes(data).finish(),
    })),
    // An empty group: its data is the end-group tag.
    number.map((no) => ({ no, wireType: WireType.StartGroup, data: new BinaryWriter().tag(no, WireType.EndGroup).finish() })),
  );
  return fc.array(field, { minLength: 1, maxLength: 3 });
}

/** Every extension declared in some files, by the type name of the message it extends. */
export function extensionsOf(files: readonly DescFile[]): Map<string, DescExtension[]> {
  const byExtendee = new Map<string, DescExtension[]>();
  const add = (ext: DescExtension) => {
    const list = byExtendee.get(ext.extendee.typeName) ?? [];
    list.push(ext);
    byExtendee.set(ext.extendee.typeName, list);
  };
  const visit = (messages: readonly DescMessage[]) => {
    for (const m of messages) {
      m.nestedExtensions.forEach(add);
      visit(m.nestedMessages);
    }
  };
  for (const file of files) {
    file.extensions.forEach(add);
    visit(file.messages);
  }
  return byExtendee;
}
