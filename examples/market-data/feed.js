// The market-data example's price source: one feed that ticks every symbol of its
// universe (a random walk) and fans each quote out to every subscription that asked for
// that symbol. A subscription is an async iterable of quotes with a bounded queue: a
// subscriber that falls `maxQueue` quotes behind is ended with ResourceExhausted rather
// than letting the server's memory grow (back-pressure, never growth).
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

import { QuoteSchema } from "../gen/market/v1/market_pb.js";

export class QuoteFeed {
  #symbols = new Map(); // symbol -> { bid, ask, sequence }
  #subscriptions = new Set();
  #timer;
  #intervalMs;

  constructor(symbols, { intervalMs = 1 } = {}) {
    this.#intervalMs = intervalMs;
    symbols.forEach((symbol, i) => this.#symbols.set(symbol, { bid: 100 + i * 10, ask: 100.05 + i * 10, sequence: 0n }));
  }

  get symbols() {
    return [...this.#symbols.keys()];
  }

  /** The latest quote of a symbol (undefined for an unknown symbol). */
  latest(symbol) {
    const s = this.#symbols.get(symbol);
    return s && this.#quote(symbol, s, 0);
  }

  /** A subscription to `symbols`; iterate it, close() it when done. Ticking runs while anyone subscribes. */
  subscribe(symbols, { maxQueue = 10_000, payloadBytes = 0 } = {}) {
    const unknown = symbols.filter((s) => !this.#symbols.has(s));
    if (unknown.length > 0) throw new ConnectError(`unknown symbol(s): ${unknown.join(", ")}`, Code.InvalidArgument);
    const subscription = new Subscription(new Set(symbols), maxQueue, payloadBytes, () => {
      this.#subscriptions.delete(subscription);
      if (this.#subscriptions.size === 0) this.#stop();
    });
    this.#subscriptions.add(subscription);
    this.#timer ??= setInterval(() => this.#tick(), this.#intervalMs);
    return subscription;
  }

  close() {
    for (const s of [...this.#subscriptions]) s.close();
    this.#stop();
  }

  #stop() {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick() {
    for (const [symbol, s] of this.#symbols) {
      const step = (Math.random() - 0.5) * 0.02;
      s.bid = Math.max(0.01, s.bid + step);
      s.ask = s.bid + 0.01 + Math.random() * 0.04;
      s.sequence++;
      for (const subscription of this.#subscriptions) {
        if (subscription.symbols.has(symbol)) subscription.push(this.#quote(symbol, s, subscription.payloadBytes));
      }
    }
  }

  #quote(symbol, s, payloadBytes) {
    return create(QuoteSchema, {
      symbol,
      bid: Math.round(s.bid * 100) / 100,
      ask: Math.round(s.ask * 100) / 100,
      bidSize: 100n,
      askSize: 200n,
      timeNs: process.hrtime.bigint(),
      sequence: s.sequence,
      venuePayload: new Uint8Array(payloadBytes),
    });
  }
}

class Subscription {
  #queue = [];
  #wake;
  #error;
  #closed = false;

  constructor(symbols, maxQueue, payloadBytes, onClose) {
    this.symbols = symbols;
    this.maxQueue = maxQueue;
    this.payloadBytes = payloadBytes;
    this.onClose = onClose;
  }

  push(quote) {
    if (this.#closed) return;
    if (this.#queue.length >= this.maxQueue) {
      this.#error = new ConnectError(`subscriber fell ${this.maxQueue} quotes behind`, Code.ResourceExhausted);
      this.close();
      return;
    }
    this.#queue.push(quote);
    this.#wake?.();
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose();
    this.#wake?.();
  }

  async *[Symbol.asyncIterator]() {
    for (;;) {
      if (this.#queue.length > 0) {
        yield this.#queue.shift();
        continue;
      }
      if (this.#error) throw this.#error;
      if (this.#closed) return;
      await new Promise((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}
