// The undecoded part of a call's message queue (message-queue.ts): messages that arrived
// while the queue already held its bound of decoded messages are kept as their bytes,
// copied in arrival order into shared chunks, and handed back in the same order to be
// decoded when the application gets to them. Memory is their bytes plus 8 bytes of
// bookkeeping each, so a window's worth of tiny messages costs about a window, not a
// decoded object per message (docs/PROTOCOL.md §4.6).

import { Fifo } from "../frame/fifo.js";

/** Size of a chunk; a larger message gets a chunk of its own size. */
const CHUNK_BYTES = 64 * 1024;

interface Chunk {
  bytes: Uint8Array;
  /** Bytes written; final once a later chunk exists. */
  fill: number;
}

/** Message bytes in FIFO order. */
export class ByteBacklog {
  readonly #chunks = new Fifo<Chunk>();
  #last: Chunk | undefined;
  readonly #lengths = new Fifo<number>();
  /** Where the oldest message starts in the oldest chunk. */
  #readPos = 0;
  #bytes = 0;

  /** Messages held. */
  get length(): number {
    return this.#lengths.length;
  }

  /** Bytes held (message bytes, not counting chunk slack). */
  get byteLength(): number {
    return this.#bytes;
  }

  /** Copies `message` in (a message never spans two chunks). */
  push(message: Uint8Array): void {
    const n = message.byteLength;
    let last = this.#last;
    if (last === undefined || last.fill + n > last.bytes.byteLength) {
      last = { bytes: new Uint8Array(Math.max(CHUNK_BYTES, n)), fill: 0 };
      this.#chunks.push(last);
      this.#last = last;
    }
    last.bytes.set(message, last.fill);
    last.fill += n;
    this.#lengths.push(n);
    this.#bytes += n;
  }

  /** The oldest message, removed: a view of its chunk (chunks are never written twice). */
  shift(): Uint8Array | undefined {
    const n = this.#lengths.shift();
    if (n === undefined) return undefined;
    let head = this.#chunks.peek() as Chunk;
    if (this.#readPos + n > head.fill) {
      // The writer moved on to the next chunk at this message.
      this.#chunks.shift();
      head = this.#chunks.peek() as Chunk;
      this.#readPos = 0;
    }
    const view = head.bytes.subarray(this.#readPos, this.#readPos + n);
    this.#readPos += n;
    this.#bytes -= n;
    if (this.#lengths.length === 0) this.clear();
    return view;
  }

  /** Drops everything. */
  clear(): void {
    this.#chunks.drain();
    this.#lengths.drain();
    this.#last = undefined;
    this.#readPos = 0;
    this.#bytes = 0;
  }
}
