// Send packs: a connection's small frames written back to back, headers included, into
// one region lease, and handed to the native engine as ranges of that lease through a
// table both sides share (native/uring/uring_engine.h, "Send packs"). A frame then costs
// no allocation and no native call of its own: the engine reads the table when it
// flushes (or before any call that depends on send order) and sends each range with the
// connection's other frames. A read of the table ends every pack in it: the engine frees
// each pack's lease once its ranges were written, and the next frame opens a new pack.
// Owns the table (SendRangeTable, one per engine) and the pack being filled (SendPack,
// one per connection).
import type { Region } from "../region.js";
import type { FrameWriter } from "./channel.js";
import { STREAM_FRAME_HEADER_BYTES } from "./frame-headers.js";

/** The largest pack lease. The first pack after the engine read the table has room for
 * twice what the previous one took, or its first frame (a lone frame costs about what a
 * lease of its own would); a full pack is followed by one 4 × its size, up to this. */
export const PACK_BYTES = 32 * 1024;
/** Frames up to this size go into packs; a larger one takes a lease of its own (its bytes, not the call, dominate). */
export const PACK_MAX_FRAME_BYTES = 2048;
const PACK_GROWTH = 4;

const HEADER = 2; // the count, the generation (how many times the engine read the table)
const WORDS = 5; // connection, lease, from, length, frames
/** Ranges the table holds before it is handed over early. */
const CAPACITY = 256;

/** The ranges JS described and the engine has not read yet (one per engine). */
export class SendRangeTable {
  /** Shared with the native engine. */
  readonly words = new Uint32Array(HEADER + CAPACITY * WORDS);
  #handOver: () => void = () => undefined;

  /** The native call that reads the table now (used when it is full). */
  attach(handOver: () => void): void {
    this.#handOver = handOver;
  }

  /** Moves each time the engine read the table: every pack it saw is the engine's now. */
  get generation(): number {
    return this.words[1]!;
  }

  /**
   * Room for one more range: a full table is handed over now, before a frame is written
   * (the hand-over ends the packs in it, so none may get a range after it).
   */
  makeRoom(): void {
    if (this.words[0] === CAPACITY) this.#handOver();
  }

  /** `length` bytes of whole frames at `from` in the lease at `lease`, for `connection` (after makeRoom()). */
  add(connection: number, lease: number, from: number, length: number): void {
    const w = this.words;
    const n = w[0]!;
    if (n > 0) {
      const e = HEADER + (n - 1) * WORDS;
      // The frame follows the last range of the same pack: that range grows.
      if (w[e] === connection && w[e + 1] === lease && w[e + 2]! + w[e + 3]! === from) {
        w[e + 3]! += length;
        w[e + 4]! += 1;
        return;
      }
    }
    const e = HEADER + n * WORDS;
    w[e] = connection;
    w[e + 1] = lease;
    w[e + 2] = from;
    w[e + 3] = length;
    w[e + 4] = 1;
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
  /** Bytes of the pack's lease. */
  #size = 0;
  /** The table generation the pack was opened in: once it moved, the pack is the engine's. */
  #generation = -1;
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
    const frameBytes = STREAM_FRAME_HEADER_BYTES + bodyBytes;
    this.#table.makeRoom();
    const generation = this.#table.generation;
    if (this.#lease < 0 || generation !== this.#generation || this.#tail + frameBytes > this.#size) {
      // Read by the engine already (the turn ended, or a whole-lease send went first):
      // room for twice what the last pack took; full: grow.
      const size = Math.max(frameBytes, Math.min(PACK_BYTES, generation !== this.#generation ? 2 * this.#tail : this.#size * PACK_GROWTH));
      if (!this.#open(size, generation)) return false;
    }
    const bytes = this.#bytes!;
    const at = this.#lease + this.#tail;
    bytes[at] = bodyBytes;
    bytes[at + 1] = bodyBytes >>> 8;
    bytes[at + 2] = bodyBytes >>> 16;
    bytes[at + 3] = bodyBytes >>> 24;
    try {
      // A view by the constructor: subarray() costs a species lookup per frame.
      frame.write(new Uint8Array(bytes.buffer, bytes.byteOffset + at + STREAM_FRAME_HEADER_BYTES, bodyBytes));
    } catch (e) {
      if (this.#tail === 0) {
        // Nothing of this pack was described: it is still ours to free.
        this.#region.free(this.#lease);
        this.#lease = -1;
      }
      throw e;
    }
    this.#table.add(this.#connection, this.#lease, this.#tail, frameBytes);
    this.#tail += frameBytes;
    return true;
  }

  #open(size: number, generation: number): boolean {
    // The previous pack needs nothing: its ranges are in the table, and the read that
    // takes them frees it once written.
    this.#lease = -1;
    const lease = this.#region.allocOffset(size);
    if (lease < 0) return false;
    this.#lease = lease;
    this.#tail = 0;
    this.#size = size;
    this.#generation = generation;
    // The region's one ArrayBuffer, viewed once (a closed region detaches it).
    if (this.#bytes === undefined || this.#bytes.buffer !== this.#region.buffer) this.#bytes = new Uint8Array(this.#region.buffer);
    return true;
  }
}
