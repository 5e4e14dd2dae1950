// An async queue of received messages for one direction of one call: filled from frame
// callbacks, drained by the application through AsyncIterable. Taking an item reports
// its size (for flow-control credit) and its held lease (for the alias policy's scope).
// At most DECODED_QUEUE_LIMIT decoded messages wait; while that many do, later ones wait
// undecoded and are decoded when taken, so a window full of tiny messages does not cost a
// decoded object each (docs/PROTOCOL.md §4.6): under "copy" as a copy of their bytes
// (byte-backlog.ts: about the window), under "alias" as a view of their held frame (the
// frames are region memory, bounded by the region; the view costs a small record).

import type { Lease } from "../channel/channel.js";
import { Fifo } from "../frame/fifo.js";
import { ByteBacklog } from "./byte-backlog.js";
import type { Decoded } from "./decode.js";

/** Decoded messages a queue holds before later ones wait as bytes. */
export const DECODED_QUEUE_LIMIT = 32;

interface Item<T> {
  value: T;
  size: number;
  lease: Lease | undefined;
}

/** Hooks of a queue. */
export interface QueueHooks<T> {
  /** An item was handed to the consumer. */
  onTake(size: number, lease: Lease | undefined): void;
  /**
   * Decodes a message that waited undecoded: `held` is its frame (pushBytes with a lease),
   * else `bytes` are the queue's copy (views into it must be copied out). Throws when the
   * bytes are not a message, after failing the call.
   */
  decodeQueued(bytes: Uint8Array, held: Lease | undefined): Decoded<T>;
}

/** A message waiting undecoded in its held frame. */
interface HeldMessage {
  view: Uint8Array;
  lease: Lease;
}

/** A single-consumer queue; errors surface after the items queued before them. */
export class MessageQueue<T> implements AsyncIterable<T> {
  #items: Item<T>[] = [];
  #head = 0;
  readonly #backlog = new ByteBacklog();
  #heldBacklog: Fifo<HeldMessage> | undefined;
  #ended = false;
  #error: unknown;
  #hasError = false;
  #waiter: { resolve(r: IteratorResult<T>): void; reject(e: unknown): void } | undefined;
  readonly #hooks: QueueHooks<T>;

  constructor(hooks: QueueHooks<T>) {
    this.#hooks = hooks;
  }

  /** True once end() or fail() was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Number of items not yet taken (decoded or waiting undecoded). */
  get length(): number {
    return this.#items.length - this.#head + this.#undecoded;
  }

  get #undecoded(): number {
    return this.#backlog.length + (this.#heldBacklog?.length ?? 0);
  }

  /** True when the next message must be queued with pushBytes() (the decoded ones are at their bound). */
  get wantsBytes(): boolean {
    return this.#undecoded > 0 || this.#items.length - this.#head >= DECODED_QUEUE_LIMIT;
  }

  /**
   * Queues a message undecoded, decoded when taken (see wantsBytes): with `held`, its
   * frame was held and `message` is a view of it; without, `message` is copied. A queue
   * uses one of the two for all its messages (the call's policy).
   */
  pushBytes(message: Uint8Array, held?: Lease): void {
    if (this.#ended) {
      held?.release();
      return;
    }
    if (held === undefined) this.#backlog.push(message);
    else (this.#heldBacklog ??= new Fifo<HeldMessage>()).push({ view: message, lease: held });
  }

  push(value: T, size: number, lease: Lease | undefined): void {
    if (this.#ended) {
      lease?.release();
      return;
    }
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      this.#hooks.onTake(size, lease);
      waiter.resolve({ done: false, value });
      return;
    }
    this.#items.push({ value, size, lease });
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#settleWaiter();
  }

  /** Ends with an error; `discard` drops (and releases) items not yet taken. */
  fail(error: unknown, discard = false): void {
    if (this.#ended) {
      if (!discard) return;
    } else {
      this.#ended = true;
      this.#error = error;
      this.#hasError = true;
    }
    if (discard) this.#discard();
    this.#settleWaiter();
  }

  /**
   * The one item of a queue that ended cleanly with exactly one item, taken at once (a
   * unary request that came whole with its CALL_START); otherwise undefined and nothing
   * is taken.
   */
  takeSole(): T | undefined {
    if (!this.#ended || this.#hasError || this.#items.length - this.#head !== 1 || this.#undecoded > 0) return undefined;
    const item = this.#items[this.#head] as Item<T>;
    this.#items = [];
    this.#head = 0;
    this.#hooks.onTake(item.size, item.lease);
    return item.value;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      const item = this.#items[this.#head] as Item<T>;
      this.#items[this.#head++] = undefined as unknown as Item<T>;
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#head = 0;
      }
      this.#hooks.onTake(item.size, item.lease);
      return Promise.resolve({ done: false, value: item.value });
    }
    if (this.#undecoded > 0) return this.#takeUndecoded();
    if (this.#ended) return this.#finish();
    if (this.#waiter !== undefined) return Promise.reject(new Error("MessageQueue: concurrent next()"));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: (value?: unknown) => {
        this.fail(undefined, true);
        return Promise.resolve({ done: true, value: value as T });
      },
    };
  }

  #finish(): Promise<IteratorResult<T>> {
    if (this.#hasError && this.#error !== undefined) {
      const e = this.#error;
      this.#error = undefined; // thrown once, then the iterator is done
      return Promise.reject(e);
    }
    return Promise.resolve({ done: true, value: undefined });
  }

  #takeUndecoded(): Promise<IteratorResult<T>> {
    const held = this.#heldBacklog?.shift();
    const bytes = held?.view ?? (this.#backlog.shift() as Uint8Array);
    let decoded: Decoded<T>;
    try {
      decoded = this.#hooks.decodeQueued(bytes, held?.lease);
    } catch (e) {
      this.fail(e, true);
      return this.#finish();
    }
    this.#hooks.onTake(bytes.byteLength, decoded.lease);
    return Promise.resolve({ done: false, value: decoded.message });
  }

  #settleWaiter(): void {
    const waiter = this.#waiter;
    if (waiter === undefined || this.length > 0) return;
    this.#waiter = undefined;
    this.#finish().then(waiter.resolve, waiter.reject);
  }

  #discard(): void {
    for (let i = this.#head; i < this.#items.length; i++) this.#items[i]?.lease?.release();
    this.#items = [];
    this.#head = 0;
    this.#backlog.clear();
    for (const held of this.#heldBacklog?.drain() ?? []) held.lease.release();
  }
}
