// Send packs: a connection's small frames written back to back, headers included, into
// one region lease, and handed to the native engine as ranges of that lease through a
// table both sides share (native/uring/uring_engine.h, "Send packs"). A frame then costs
// no allocation and no native call of its own: the engine reads the table when it
// flushes (or before any call that depends on send order) and sends each range with the
// connection's other frames. Owns the table (SendRangeTable, one per engine) and the
// pack being filled (SendPack, one per connection); the pack's lease is the engine's
// once its last range is in the table.
import type { Region } from "../region.js";
import type { FrameWriter } from "./channel.js";

/** The largest pack lease. A turn's first pack fits just its first frame (a lone frame costs
 * what a lease of its own would), each further pack of the turn is 4 × the last, up to this. */
export const PACK_BYTES = 32 * 1024;
const PACK_GROWTH = 4;
/** Frames up to this size go into packs; a larger one takes a lease of its own (its bytes, not the call, dominate). */
export const PACK_MAX_FRAME_BYTES = 2048;

const WORDS = 5; // connection, lease, from, length, frames | LAST
const LAST = 0x80000000;
const FRAMES = 0x7fffffff;
/** Ranges the table holds before it is handed over early. */
const CAPACITY = 256;

/** The ranges JS described and the engine has not read yet (one per engine). */
export class SendRangeTable {
  /** Word 0: the count; then WORDS words per range. Shared with the native engine. */
  readonly words = new Uint32Array(1 + CAPACITY * WORDS);
  #handOver: () => void = () => undefined;

  /** The native call that reads the table now (used when it is full). */
  attach(handOver: () => void): void {
    this.#handOver = handOver;
  }

  /** `length` bytes of whole frames at `from` in the lease at `lease`, for `connection`. */
  add(connection: number, lease: number, from: number, length: number): void {
    const w = this.words;
    const e = this.#lastEntry();
    // The frame follows the last range of the same pack: that range grows.
    if (e > 0 && w[e] === connection && w[e + 1] === lease && w[e + 2]! + w[e + 3]! === from && (w[e + 4]! & LAST) === 0) {
      w[e + 3]! += length;
      w[e + 4]! += 1;
      return;
    }
    this.#append(connection, lease, from, length, 1);
  }

  /** No more frames go into the pack at `lease`: the engine frees it once its last range was written. */
  finish(connection: number, lease: number): void {
    const w = this.words;
    const e = this.#lastEntry();
    if (e > 0 && w[e] === connection && w[e + 1] === lease) w[e + 4] = (w[e + 4]! & FRAMES) | LAST;
    else this.#append(connection, lease, 0, 0, LAST);
  }

  /** Index of the last range's first word, or 0 when the table is empty. */
  #lastEntry(): number {
    const n = this.words[0]!;
    return n > 0 ? 1 + (n - 1) * WORDS : 0;
  }

  #append(connection: number, lease: number, from: number, length: number, framesAndLast: number): void {
    const w = this.words;
    if (w[0] === CAPACITY) this.#handOver();
    const n = w[0]!;
    const e = 1 + n * WORDS;
    w[e] = connection;
    w[e + 1] = lease;
    w[e + 2] = from;
    w[e + 3] = length;
    w[e + 4] = framesAndLast;
    w[0] = n + 1;
  }
}

/** The pack one connection is filling. */
export class SendPack {
  readonly #table: SendRangeTable;
  readonly #region: Region;
  readonly #connection: number;
  /** Region offset of the pack's lease; -1: none. */
  #lease = -1;
  #tail = 0;
  /** Bytes of the current pack's lease. */
  #size = 0;
  /** Bytes of the next pack this turn (0: the turn's first pack, sized to its first frame). */
  #nextSize = 0;
  #bytes: Uint8Array | undefined;

  constructor(table: SendRangeTable, region: Region, connection: number) {
    this.#table = table;
    this.#region = region;
    this.#connection = connection;
  }

  /**
   * Writes `frame` (a u32 little-endian length, then its body) at the pack's end and
   * describes it to the engine; false when no pack lease could be had (the region is full:
   * nothing was written). A writer that throws leaves the pack as it was.
   */
  write(frame: FrameWriter): boolean {
    const bodyBytes = frame.byteLength;
    const frameBytes = 4 + bodyBytes;
    if (this.#lease < 0 || this.#tail + frameBytes > this.#size) {
      this.finish();
      if (!this.#open(Math.max(frameBytes, this.#nextSize))) return false;
    }
    const bytes = this.#bytes!;
    const at = this.#lease + this.#tail;
    bytes[at] = bodyBytes;
    bytes[at + 1] = bodyBytes >>> 8;
    bytes[at + 2] = bodyBytes >>> 16;
    bytes[at + 3] = bodyBytes >>> 24;
    frame.write(bytes.subarray(at + 4, at + frameBytes));
    this.#table.add(this.#connection, this.#lease, this.#tail, frameBytes);
    this.#tail += frameBytes;
    return true;
  }

  /**
   * Hands the pack's lease over (its last range), or frees it when `engineGone` (the
   * native engine closed: nothing of it is queued anywhere any more).
   */
  finish(engineGone = false): void {
    const lease = this.#lease;
    if (lease < 0) return;
    this.#lease = -1;
    if (engineGone) this.#region.free(lease);
    else this.#table.finish(this.#connection, lease);
  }

  #open(size: number): boolean {
    const lease = this.#region.allocOffset(size);
    if (lease < 0) return false;
    const firstOfTurn = this.#nextSize === 0;
    this.#lease = lease;
    this.#tail = 0;
    this.#size = size;
    this.#nextSize = Math.min(PACK_BYTES, Math.max(size, 256) * PACK_GROWTH);
    // The region's one ArrayBuffer, viewed once (a closed region detaches it).
    if (this.#bytes === undefined || this.#bytes.buffer !== this.#region.buffer) this.#bytes = new Uint8Array(this.#region.buffer);
    // A pack lives one turn at most: what the turn wrote leaves with the engine's flush, and
    // its lease comes back once written instead of idling with the connection.
    if (firstOfTurn) {
      setImmediate(() => {
        this.#nextSize = 0;
        this.finish();
      });
    }
    return true;
  }
}
