// Splits the byte stream of one node:net socket into frames (u32 little-endian body
// length + body). Owns the only copy the net engine makes on receive: a frame that lies
// inside one chunk is handed on as a subarray of that chunk; a frame that straddles
// chunks is reassembled once into a Region lease (with 4 bytes of header room in front,
// so that it can be sent on unchanged). When the region has no room, or the connection's
// share of it none (reassembly-share.ts), the frame is reassembled on the heap instead of waiting: receives must never wait for sends to
// drain, or two peers whose regions are full of sends to each other deadlock (the
// channel suite's hold() test over Unix sockets did). Memory stays bounded: at most one
// frame (<= maxFrameBytes) per connection is being reassembled at a time.

import type { Region, RegionLease } from "../region.js";
import { codedError } from "../errors.js";
import { STREAM_FRAME_HEADER_BYTES, notProtocolError } from "./frame-headers.js";

/** Bytes of the frame header: the body length, u32 little endian (frame-headers.ts). */
export const FRAME_HEADER_BYTES = STREAM_FRAME_HEADER_BYTES;

/** How a whole frame reached the reader. */
export type FrameOrigin =
  /** A subarray of one socket chunk: no copy. */
  | { kind: "view" }
  /** Reassembled into a region lease, which the handler owns from then on. */
  | { kind: "lease"; lease: RegionLease }
  /** Reassembled on the heap because the region was full. */
  | { kind: "heap" };

/** Receives each whole frame; returns false to stop parsing (the channel closed). */
export type FrameHandler = (frame: Uint8Array, origin: FrameOrigin) => boolean;

const VIEW: FrameOrigin = { kind: "view" };
const HEAP: FrameOrigin = { kind: "heap" };

/** Where reassembly leases come from: the region, or the channel's share of it. */
export type ReassemblyLeases = Pick<Region, "tryAllocate">;

/** Stream-to-frames parser of one connection. */
export class FrameReader {
  readonly #region: ReassemblyLeases;
  readonly #maxFrameBytes: number;
  readonly #onFrame: FrameHandler;
  /** Header bytes gathered across chunks. */
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerFill = 0;
  /** The frame being reassembled, where it lives, and how much of it arrived. */
  #body: Uint8Array | undefined;
  #origin: FrameOrigin = VIEW;
  #filled = 0;
  /** Until the first header is parsed: the most it may announce (0: no such bound). */
  #firstLimit: number;

  /** `firstFrameMaxBytes`: the most the stream's first frame may announce (0: no bound beyond maxFrameBytes). */
  constructor(region: ReassemblyLeases, maxFrameBytes: number, onFrame: FrameHandler, firstFrameMaxBytes = 0) {
    this.#firstLimit = firstFrameMaxBytes;
    this.#region = region;
    this.#maxFrameBytes = maxFrameBytes;
    this.#onFrame = onFrame;
  }

  /** True when the stream stopped inside a frame (header or body incomplete). */
  get midFrame(): boolean {
    return this.#headerFill > 0 || this.#body !== undefined;
  }

  /** Bytes of the current frame that arrived, its length header included (0 between frames). */
  get partialBytes(): number {
    return this.#body !== undefined ? FRAME_HEADER_BYTES + this.#filled : this.#headerFill;
  }

  /** Parses one chunk of the stream: undefined, or the error that must close the connection. */
  push(chunk: Uint8Array): Error | undefined {
    let pos = 0;
    const end = chunk.byteLength;
    while (pos < end) {
      if (this.#body) {
        const body = this.#body;
        const n = Math.min(body.byteLength - this.#filled, end - pos);
        body.set(chunk.subarray(pos, pos + n), this.#filled);
        this.#filled += n;
        pos += n;
        if (this.#filled < body.byteLength) return undefined;
        const origin = this.#origin;
        this.#body = undefined;
        this.#origin = VIEW;
        if (!this.#onFrame(body, origin)) return undefined;
        continue;
      }
      let length: number;
      if (this.#headerFill === 0 && end - pos >= FRAME_HEADER_BYTES) {
        length = readU32(chunk, pos);
        pos += FRAME_HEADER_BYTES;
      } else {
        const n = Math.min(FRAME_HEADER_BYTES - this.#headerFill, end - pos);
        this.#header.set(chunk.subarray(pos, pos + n), this.#headerFill);
        this.#headerFill += n;
        pos += n;
        if (this.#headerFill < FRAME_HEADER_BYTES) return undefined;
        this.#headerFill = 0;
        length = readU32(this.#header, 0);
      }
      if (this.#firstLimit !== 0) {
        const limit = this.#firstLimit;
        this.#firstLimit = 0;
        if (length > limit) return notProtocolError(limit);
      }
      if (length > this.#maxFrameBytes) {
        return codedError("ERR_FRAME_TOO_LARGE", `peer sent a frame of ${length} bytes, above maxFrameBytes ${this.#maxFrameBytes}`);
      }
      if (end - pos >= length) {
        const frame = chunk.subarray(pos, pos + length);
        pos += length;
        if (!this.#onFrame(frame, VIEW)) return undefined;
        continue;
      }
      // The frame straddles chunks: one copy, into the region when it has room.
      const lease = this.#region.tryAllocate(length, FRAME_HEADER_BYTES);
      this.#body = lease ? lease.bytes : new Uint8Array(length);
      this.#origin = lease ? { kind: "lease", lease } : HEAP;
      this.#filled = 0;
    }
    return undefined;
  }

  /** Frees a partly reassembled frame and forgets all state. Idempotent. */
  dispose(): void {
    if (this.#origin.kind === "lease") this.#origin.lease.release();
    this.#body = undefined;
    this.#origin = VIEW;
    this.#headerFill = 0;
  }
}

function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16)) + bytes[at + 3]! * 0x1000000;
}
