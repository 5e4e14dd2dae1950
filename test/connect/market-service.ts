// The test implementation of market.v1.MarketService used by the transport suite, the
// zero-copy tests and the connect-node parity test. Behaviour is driven by request
// fields (magic symbols, delays, counts) so every semantic can be exercised from the
// client; what the handlers observe (their signal aborting, headers) is recorded in a
// ServerLog the tests inspect.

import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, decodeBinaryHeader, encodeBinaryHeader } from "@connectrpc/connect";
import type { ConnectRouter, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  AckStatus,
  MarketService,
  RejectReasonSchema,
  type OrderAckSchema,
  type QuoteSchema,
} from "../gen/market/v1/market_pb.js";

/** What handlers observed, keyed by a name the request carries (symbol / order id). */
export class ServerLog {
  readonly aborted = new Map<string, unknown>();
  readonly started = new Set<string>();
  readonly finished = new Set<string>();
  readonly headers = new Map<string, Headers>();
  #waiters = new Map<string, (() => void)[]>();

  abortedCode(key: string): Code | undefined {
    const r = this.aborted.get(key);
    return r === undefined ? undefined : ConnectError.from(r).code;
  }

  /** Resolves when `key` was recorded as aborted (or times out with a clear error). */
  async waitAborted(key: string, timeoutMs = 5000): Promise<unknown> {
    if (this.aborted.has(key)) return this.aborted.get(key);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`handler "${key}" never saw its signal abort`)), timeoutMs);
      const list = this.#waiters.get(key) ?? [];
      list.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.#waiters.set(key, list);
    });
    return this.aborted.get(key);
  }

  /** Records signal aborts of a handler under `key`. */
  watch(key: string, signal: AbortSignal): void {
    this.started.add(key);
    const record = (): void => {
      this.aborted.set(key, signal.reason);
      for (const w of this.#waiters.get(key) ?? []) w();
      this.#waiters.delete(key);
    };
    if (signal.aborted) record();
    else signal.addEventListener("abort", record, { once: true });
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Deterministic payload bytes: the tests recompute them to check content. */
export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A message with every character class the error/metadata tests need. */
export const NASTY_TEXT = "ünïcødé ✓ 日本語 🚀 \u0000 nul, \t tab, \r\n newline, \u0007 bell, trailing space ";

/** The error a "FAIL" request produces: code, Unicode message, metadata (-bin too), a detail. */
export function failError(symbol: string): ConnectError {
  const code = Number(symbol.split(":")[1] ?? Code.FailedPrecondition) as Code;
  const err = new ConnectError(NASTY_TEXT, code, {
    "x-error-id": "e-42",
    "x-error-bin": encodeBinaryHeader(new Uint8Array([0, 1, 2, 250, 255])),
  });
  err.details.push({
    desc: RejectReasonSchema,
    value: { reason: "limit breached ✓", symbol, context: new Uint8Array([9, 8, 7]) },
  });
  return err;
}

function echoHeaders(ctx: HandlerContext): void {
  ctx.requestHeader.forEach((value, key) => {
    if (!key.startsWith("x-")) return;
    ctx.responseHeader.set(`${key}-echo`, value);
    ctx.responseTrailer.set(`${key}-trailer`, value);
  });
  const bin = ctx.requestHeader.get("x-blob-bin");
  if (bin !== null) {
    // Decode and re-encode: proves the server saw the bytes, not just the text.
    ctx.responseTrailer.set("x-blob-length", String(decodeBinaryHeader(bin).byteLength));
  }
}

function quote(symbol: string, seq: number, payloadBytes: number): MessageInitShape<typeof QuoteSchema> {
  return {
    symbol,
    bid: 100 + seq / 100,
    ask: 100.5 + seq / 100,
    bidSize: BigInt(seq * 10),
    askSize: BigInt(seq * 10 + 5),
    timeNs: BigInt(1_700_000_000_000_000_000n) + BigInt(seq),
    sequence: BigInt(seq),
    venuePayload: pattern(payloadBytes, seq),
  };
}

/** The service implementation; CancelAll is left out on purpose (→ Unimplemented). */
export function marketImpl(log: ServerLog): Partial<ServiceImpl<typeof MarketService>> {
  return {
    // Without a delay the answer (or the error) is synchronous: the server's synchronous
    // unary path (server-call.ts, #start). With delayMs, the same answer comes from a
    // promise, after the sleep: its asynchronous path.
    getQuote(req, ctx) {
      log.watch(req.symbol, ctx.signal);
      log.headers.set(req.symbol, new Headers(ctx.requestHeader));
      echoHeaders(ctx);
      const answer = () => {
        if (req.symbol.startsWith("FAIL")) throw failError(req.symbol);
        if (req.symbol === "THROW") throw new Error("plain error with a secret");
        const payload = new Uint8Array(req.payload.byteLength + req.responsePayloadBytes);
        payload.set(req.payload);
        payload.set(pattern(req.responsePayloadBytes, 7), req.payload.byteLength);
        log.finished.add(req.symbol);
        return { ...quote(req.symbol, 1, 0), venuePayload: payload };
      };
      return req.delayMs > 0 ? sleep(req.delayMs, ctx.signal).then(answer) : answer();
    },

    async *subscribe(req, ctx) {
      const key = req.symbols.join(",");
      log.watch(key, ctx.signal);
      echoHeaders(ctx);
      ctx.responseHeader.set("x-stream", "subscribe");
      for (let i = 1; req.count === 0 || i <= req.count; i++) {
        if (req.failAfter > 0 && i > req.failAfter) throw failError(`FAIL:${Code.Aborted}`);
        if (req.intervalMs > 0) await sleep(req.intervalMs, ctx.signal);
        ctx.signal.throwIfAborted();
        yield quote(req.symbols[(i - 1) % Math.max(1, req.symbols.length)] ?? "", i, req.payloadBytes);
      }
      ctx.responseTrailer.set("x-count", String(req.count));
      log.finished.add(key);
    },

    async submitOrders(orders, ctx) {
      echoHeaders(ctx);
      const hash = createHash("sha256");
      let accepted = 0;
      let total = 0n;
      const ids: string[] = [];
      for await (const o of orders) {
        if (ids.length === 0) log.watch(o.clientOrderId, ctx.signal);
        if (o.symbol.startsWith("FAIL")) throw failError(o.symbol);
        accepted++;
        total += o.quantity;
        ids.push(o.clientOrderId);
        hash.update(o.signature);
        for (const leg of o.legs) hash.update(leg);
      }
      ctx.responseTrailer.set("x-orders", String(accepted));
      return { accepted, totalQuantity: total, digest: hash.digest(), orderIds: ids };
    },

    async *trade(orders, ctx) {
      echoHeaders(ctx);
      ctx.responseHeader.set("x-session", "trade");
      let seq = 0;
      for await (const o of orders) {
        if (seq === 0) log.watch(o.clientOrderId, ctx.signal);
        if (o.symbol.startsWith("FAIL")) throw failError(o.symbol);
        seq++;
        const ack: MessageInitShape<typeof OrderAckSchema> = {
          clientOrderId: o.clientOrderId,
          orderId: `ord-${seq}`,
          status: o.quantity > 0n ? AckStatus.ACCEPTED : AckStatus.REJECTED,
          signatureEcho: o.signature,
          sequence: BigInt(seq),
        };
        yield ack;
      }
      ctx.responseTrailer.set("x-acks", String(seq));
    },
  };
}

/** The routes function (what connectNodeAdapter takes too). */
export function marketRoutes(log: ServerLog): (router: ConnectRouter) => void {
  return (router) => {
    router.service(MarketService, marketImpl(log));
  };
}

export { create };
