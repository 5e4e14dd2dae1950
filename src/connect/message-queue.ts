// An async queue of received messages for one direction of one call: filled from frame
// callbacks, drained by the application through AsyncIterable. Taking an item reports
// its size (for flow-control credit) and its held lease (for the alias policy's scope).

import type { Lease } from "../channel/channel.js";

interface Item<T> {
  value: T;
  size: number;
  lease: Lease | undefined;
}

/** Hooks of a queue. */
export interface QueueHooks {
  /** An item was handed to the consumer. */
  onTake(size: number, lease: Lease | undefined): void;
}

/** A single-consumer queue; errors surface after the items queued before them. */
export class MessageQueue<T> implements AsyncIterable<T> {
  #items: Item<T>[] = [];
  #head = 0;
  #ended = false;
  #error: unknown;
  #hasError = false;
  #waiter: { resolve(r: IteratorResult<T>): void; reject(e: unknown): void } | undefined;
  readonly #hooks: QueueHooks;

  constructor(hooks: QueueHooks) {
    this.#hooks = hooks;
  }

  /** True once end() or fail() was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Number of items not yet taken. */
  get length(): number {
    return this.#items.length - this.#head;
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
    if (!this.#ended || this.#hasError || this.#items.length - this.#head !== 1) return undefined;
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

  #settleWaiter(): void {
    const waiter = this.#waiter;
    if (waiter === undefined || this.#head < this.#items.length) return;
    this.#waiter = undefined;
    this.#finish().then(waiter.resolve, waiter.reject);
  }

  #discard(): void {
    for (let i = this.#head; i < this.#items.length; i++) this.#items[i]?.lease?.release();
    this.#items = [];
    this.#head = 0;
  }
}
