// The message codec, and the single place of the copy-vs-alias policy (docs/LIFETIMES.md).
// Decoding reads straight from the received frame's view: no copy of the message bytes.
// Types the decoder of src/protobuf covers (all of them today, decoderCoverage) are read by
// it in one pass, which makes `bytes` fields and unknown fields views of the frame, i.e.
// of a region slot, or copies, as the policy says; other types, and reads with options
// other than the defaults (binaryOptions), go to protobuf-es `fromBinary`, which makes
// them views, and the "copy" policy then copies exactly those views out (a walk over the
// schema; a message's unknown fields in one copy). So:
//   - "copy" (default): the message holds no view of the slot, which is released when the
//     frame callback returns;
//   - "alias": the views stay, and the frame is held (channel.hold) until the message's
//     scope ends: server — the handler settled; client — the next stream item, or
//     releaseMessage() for unary results.
// Encoding is in encode.ts.

import { ScalarType, fromBinary } from "@bufbuild/protobuf";
import type { BinaryReadOptions, DescField, DescMessage, MessageShape, UnknownField } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Lease } from "../channel/channel.js";
import { copyUnknown, decodeFrom, decoderCoverage } from "../protobuf/index.js";

/** What happens to `bytes` and unknown fields of received messages. */
export type BytesPolicy = "copy" | "alias";

/** Counters a codec updates. */
export interface CopyCounters {
  copies: number;
  copiedBytes: number;
  /** Frames currently held by alias-decoded messages. */
  framesHeld: number;
}

/** A decoded message and, under "alias", the held frame its views point into. */
export interface Decoded<T> {
  message: T;
  lease: Lease | undefined;
}

/** What keeps the frame being delivered alive (a Stream: its hold()). */
export interface FrameHolder {
  hold(): Lease;
}

/**
 * Decodes a message from a received frame view under `policy`. `frame.hold()` is called
 * (only for "alias") during the frame callback to keep the frame alive. Throws ConnectError
 * (Internal, like connect-es) when the bytes are not a valid message.
 */
export function decodeMessage<D extends DescMessage>(
  schema: D,
  view: Uint8Array,
  policy: BytesPolicy,
  frame: FrameHolder,
  counters: CopyCounters,
  options?: Partial<BinaryReadOptions>,
): Decoded<MessageShape<D>> {
  // Engines may hand out Buffers, whose slice() is a view: decode from a plain
  // Uint8Array view (no copy) so that bytes fields are plain views and copies are copies.
  const input = view.constructor === Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const ours = isDefault(options) && isCovered(schema);
  let message: MessageShape<D>;
  try {
    message = ours ? decodeFrom(schema, input, policy, { counts: counters }) : fromBinary(schema, input, options);
  } catch (e) {
    throw new ConnectError(`parse binary: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
  }
  if (policy === "alias") {
    const lease = new HeldFrame(frame.hold(), counters);
    aliasLeases.set(message, lease);
    return { message, lease };
  }
  if (!ours) copyViews(schema, message as Record<string, unknown>, counters);
  return { message, lease: undefined };
}

/** No read options, or fromBinary's defaults: other options are left to fromBinary. */
function isDefault(options: Partial<BinaryReadOptions> | undefined): boolean {
  return options === undefined || ((options.readUnknownFields ?? true) === true && (options.recursionLimit ?? 100) === 100);
}

const coverage = new WeakMap<DescMessage, boolean>();

/** The type asked about last, and its answer: a stream asks about one type per message. */
let lastSchema: DescMessage | undefined;
let lastCovered = false;

/** Whether src/protobuf's decoder reads this type (else fromBinary and the copy pass). */
function isCovered(schema: DescMessage): boolean {
  if (schema === lastSchema) return lastCovered;
  let covered = coverage.get(schema);
  if (covered === undefined) {
    covered = decoderCoverage(schema).covered;
    coverage.set(schema, covered);
  }
  lastSchema = schema;
  lastCovered = covered;
  return covered;
}

/**
 * Decodes a message that waited undecoded in a call's queue (message-queue.ts), when the
 * application takes it: under "alias" from its frame, which was held when it arrived
 * (`held`; released here if the bytes are not a message); under "copy" from the queue's
 * copy of its bytes (byte-backlog.ts), whose views are copied out like a frame's.
 */
export function decodeQueued<D extends DescMessage>(
  schema: D,
  bytes: Uint8Array,
  held: Lease | undefined,
  counters: CopyCounters,
  options?: Partial<BinaryReadOptions>,
): Decoded<MessageShape<D>> {
  if (held === undefined) return decodeMessage(schema, bytes, "copy", noFrame, counters, options);
  try {
    return decodeMessage(schema, bytes, "alias", { hold: () => held }, counters, options);
  } catch (e) {
    held.release();
    throw e;
  }
}

const noFrame: FrameHolder = {
  hold(): Lease {
    throw new Error("a queued copy has no frame to hold");
  },
};

const aliasLeases = new WeakMap<object, Lease>();

/** A held frame, counted in `framesHeld` until released. */
class HeldFrame implements Lease {
  readonly #inner: Lease;
  readonly #counters: CopyCounters;

  constructor(inner: Lease, counters: CopyCounters) {
    this.#inner = inner;
    this.#counters = counters;
    counters.framesHeld++;
  }

  get bytes(): Uint8Array {
    return this.#inner.bytes;
  }

  #done = false;

  get released(): boolean {
    return this.#done || this.#inner.released;
  }

  release(): void {
    if (this.#done) return;
    this.#done = true;
    this.#counters.framesHeld--;
    this.#inner.release();
  }
}

/**
 * Ends the scope of a message decoded under the "alias" policy: releases the region
 * slot its `bytes` fields point into. Afterwards those fields must not be read (the
 * slot is reused). Returns false if the message holds no slot (copy policy, or already
 * released). Idempotent.
 */
export function releaseMessage(message: object): boolean {
  const lease = aliasLeases.get(message);
  if (lease === undefined) return false;
  aliasLeases.delete(message);
  const wasHeld = !lease.released;
  lease.release();
  return wasHeld;
}

// The copy pass after fromBinary, for types the decoder does not cover.

/** Fields of a message type that can contain views: bytes, messages, lists/maps of them. */
const plans = new WeakMap<DescMessage, DescField[]>();

function planOf(desc: DescMessage): DescField[] {
  let plan = plans.get(desc);
  if (plan === undefined) {
    plan = desc.fields.filter((f) => {
      switch (f.fieldKind) {
        case "scalar":
          return f.scalar === ScalarType.BYTES;
        case "message":
          return true;
        case "list":
          return f.listKind === "message" || (f.listKind === "scalar" && f.scalar === ScalarType.BYTES);
        case "map":
          return f.mapKind === "message" || (f.mapKind === "scalar" && f.scalar === ScalarType.BYTES);
        default:
          return false;
      }
    });
    plans.set(desc, plan);
  }
  return plan;
}

function copyBytes(v: Uint8Array, counters: CopyCounters): Uint8Array {
  counters.copies++;
  counters.copiedBytes += v.byteLength;
  // TypedArray#slice copies without zero-filling first (faster than new Uint8Array(v));
  // a Buffer's own slice() would alias, so a Buffer is copied by the constructor.
  return v.constructor === Uint8Array ? v.slice() : new Uint8Array(v);
}

/** A message-typed value: a message, an unboxed wrapper (bytes) or a JSON Struct. */
function copyMessageValue(desc: DescMessage, v: unknown, counters: CopyCounters): unknown {
  if (v instanceof Uint8Array) return copyBytes(v, counters); // google.protobuf.BytesValue, unboxed
  if (typeof v === "object" && v !== null && "$typeName" in v) copyViews(desc, v as Record<string, unknown>, counters);
  return v; // scalars of other wrappers, Struct as JSON: no views
}

function copyField(field: DescField, v: unknown, counters: CopyCounters): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return v instanceof Uint8Array ? copyBytes(v, counters) : v;
    case "message":
      return copyMessageValue(field.message, v, counters);
    case "list": {
      const list = v as unknown[];
      for (let i = 0; i < list.length; i++) {
        list[i] = field.listKind === "message" ? copyMessageValue(field.message, list[i], counters) : copyBytes(list[i] as Uint8Array, counters);
      }
      return v;
    }
    case "map": {
      const map = v as Record<string, unknown>;
      for (const key of Object.keys(map)) {
        map[key] = field.mapKind === "message" ? copyMessageValue(field.message, map[key], counters) : copyBytes(map[key] as Uint8Array, counters);
      }
      return v;
    }
    default:
      return v;
  }
}

/** Replaces every view in `message` (bytes fields, unknown fields, recursively) by a copy (exported for bench/decode.js). */
export function copyViews(desc: DescMessage, message: Record<string, unknown>, counters: CopyCounters): void {
  for (const field of planOf(desc)) {
    if (field.oneof !== undefined) {
      const oneof = message[field.oneof.localName] as { case: string | undefined; value?: unknown };
      if (oneof.case === field.localName) oneof.value = copyField(field, oneof.value, counters);
      continue;
    }
    const v = message[field.localName];
    if (v !== undefined) message[field.localName] = copyField(field, v, counters);
  }
  const unknown = message.$unknown as UnknownField[] | undefined;
  if (unknown !== undefined && unknown.length > 0) copyUnknown(unknown, 0, counters);
}
