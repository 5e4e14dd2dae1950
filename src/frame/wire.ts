// Byte-level cursors for frames: a bounds-checked reader over a received frame view and
// a writer into a send lease. All integers are little-endian. Every read is checked
// against the frame's end; a violation throws ProtocolError naming the frame and field,
// so nothing a peer sends can read outside its frame.

import { Buffer } from "node:buffer";
import type { Payload } from "./payload.js";
import type { DecodedStrings } from "./decoded-strings.js";
import { ProtocolError } from "./protocol-error.js";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** UTF-8 byte length of a string. */
export function utf8Length(s: string): number {
  return s.length < 64 && isAscii(s) ? s.length : Buffer.byteLength(s, "utf8");
}

/** `s` cut to at most `maxBytes` of UTF-8, at a character boundary. */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (utf8Length(s) <= maxBytes) return s;
  const bytes = Buffer.from(s, "utf8");
  let end = Math.max(0, maxBytes);
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--; // not inside a sequence
  return bytes.toString("utf8", 0, end);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

// One DataView per ArrayBuffer, shared by every reader and writer: frames of a region
// (all frames of the native engines) or of one socket chunk (net engine) share their
// buffer, and a DataView per frame was a measurable part of the per-call allocations.
const views = new WeakMap<ArrayBufferLike, DataView>();

function viewOf(buffer: ArrayBufferLike): DataView {
  let view = views.get(buffer);
  if (view === undefined) {
    view = new DataView(buffer);
    views.set(buffer, view);
  }
  return view;
}

/** Reads a frame; `what` names the frame in errors. */
export class WireReader {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  /** Offset of `bytes` in the view's buffer. */
  readonly #base: number;
  /** `bytes.byteLength`, read once (the getter is not free). */
  readonly #end: number;
  #pos: number;
  readonly #what: string;

  constructor(bytes: Uint8Array, offset: number, what: string) {
    this.bytes = bytes;
    this.#view = viewOf(bytes.buffer);
    this.#base = bytes.byteOffset;
    this.#end = bytes.byteLength;
    this.#pos = offset;
    this.#what = what;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  fail(detail: string): never {
    throw new ProtocolError(`malformed ${this.#what} frame: ${detail}`);
  }

  #need(n: number, field: string): void {
    if (this.remaining < n) {
      this.fail(`${field} needs ${n} bytes, ${this.remaining} left`);
    }
  }

  u8(field: string): number {
    this.#need(1, field);
    return this.#view.getUint8(this.#base + this.#pos++);
  }

  u16(field: string): number {
    this.#need(2, field);
    const v = this.#view.getUint16(this.#base + this.#pos, true);
    this.#pos += 2;
    return v;
  }

  u32(field: string): number {
    this.#need(4, field);
    const v = this.#view.getUint32(this.#base + this.#pos, true);
    this.#pos += 4;
    return v;
  }

  /** A view (no copy) of the next `n` bytes: a plain Uint8Array, made by the constructor (subarray() looks up a species). */
  view(n: number, field: string): Uint8Array {
    this.#need(n, field);
    const v = new Uint8Array(this.#view.buffer, this.#base + this.#pos, n);
    this.#pos += n;
    return v;
  }

  /** The rest of the frame as a view. */
  rest(): Uint8Array {
    const v = new Uint8Array(this.#view.buffer, this.#base + this.#pos, this.#end - this.#pos);
    this.#pos = this.#end;
    return v;
  }

  /**
   * `n`, once checked that a block which began when `remaining` was `start` stays within
   * `limit` bytes after `n` more are read: a block is rejected before the bytes past its
   * limit are decoded, so it costs at most its limit's worth of work.
   */
  within(n: number, start: number, limit: number, block: string): number {
    const size = start - this.remaining + n;
    if (size > limit) this.fail(`${block} of at least ${size} bytes exceeds the announced limit of ${limit}`);
    return n;
  }

  /** A UTF-8 string of `n` bytes; invalid UTF-8 is malformed. */
  string(n: number, field: string): string {
    if (n === 0) return "";
    const v = this.view(n, field);
    try {
      return utf8.decode(v);
    } catch {
      return this.fail(`${field} is not valid UTF-8`);
    }
  }

  /**
   * As string(), answered from `cache` when the same bytes were decoded before (a
   * call's method path: one of a few, on every call).
   */
  cachedString(n: number, field: string, cache: DecodedStrings): string {
    this.#need(n, field);
    const hit = cache.find(this.bytes, this.#pos, n);
    if (hit !== undefined) {
      this.#pos += n;
      return hit;
    }
    const at = this.#pos;
    const text = this.string(n, field);
    cache.add(this.bytes, at, n, text);
    return text;
  }

  /** Asserts the frame was consumed exactly. */
  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing bytes`);
  }
}

/** Writes a frame into a lease's bytes. Callers size the lease exactly beforehand. */
export class WireWriter {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  /** Offset of `bytes` in the view's buffer. */
  readonly #base: number;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.#view = viewOf(bytes.buffer);
    this.#base = bytes.byteOffset;
  }

  // The view spans the whole buffer (a region holds other leases): every write checks
  // that it stays inside this frame's bytes, as a view of just the lease would.
  #room(n: number): number {
    const at = this.pos;
    if (at + n > this.bytes.byteLength) throw new RangeError(`frame writer overrun: ${n} bytes at ${at} of ${this.bytes.byteLength}`);
    this.pos = at + n;
    return this.#base + at;
  }

  u8(v: number): void {
    this.#view.setUint8(this.#room(1), v);
  }

  u16(v: number): void {
    this.#view.setUint16(this.#room(2), v, true);
  }

  u32(v: number): void {
    this.#view.setUint32(this.#room(4), v, true);
  }

  /** Copies bytes into the frame, or has a payload writer write itself there. */
  raw(src: Payload): void {
    this.pos = writePayload(this.bytes, this.pos, src);
  }


  /** Writes a string whose UTF-8 length (from utf8Length) is `byteLength`. */
  string(s: string, byteLength: number): void {
    if (byteLength === s.length) {
      // ASCII: one byte per code unit.
      const b = this.bytes;
      let p = this.pos;
      for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    } else {
      encoder.encodeInto(s, this.bytes.subarray(this.pos, this.pos + byteLength));
    }
    this.pos += byteLength;
  }
}

/**
 * Copies a payload into `bytes` at `at`, or has a payload writer write itself there;
 * returns the end. A writer never writes past `bytes` (it throws first) and must end
 * where it said.
 */
export function writePayload(bytes: Uint8Array, at: number, src: Payload): number {
  const end = at + src.byteLength;
  if (end > bytes.byteLength) throw new RangeError(`frame writer overrun: ${src.byteLength} bytes at ${at} of ${bytes.byteLength}`);
  if (src instanceof Uint8Array) {
    bytes.set(src, at);
    return end;
  }
  if (src.writeTo(bytes, at) !== end) throw new RangeError(`frame writer: a payload wrote other than its ${src.byteLength} bytes`);
  return end;
}
