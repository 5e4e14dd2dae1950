// The demo's market service (market.v1.MarketService of proto/market, generated into
// examples/gen, shared with the examples): a few listed symbols whose prices take a small random walk. `marketRoutes`
// is the same function connect-node's adapters take, so the demo serves it both through
// connect-rdma's createServer and through connectNodeAdapter on HTTP/2, and compares the
// two transports on identical handlers.
import { createHash } from "node:crypto";

import { Code, ConnectError } from "@connectrpc/connect";

import { AckStatus, MarketService, RejectReasonSchema } from "../../examples/gen/market/v1/market_pb.js";

/** Listed symbols and their mid prices. */
export const LISTED = ["AAPL", "MSFT", "NVDA", "AMZN"];

const mids = new Map([
  ["AAPL", 189.5],
  ["MSFT", 402.1],
  ["NVDA", 880.25],
  ["AMZN", 178.2],
]);

let sequence = 0n;

function quote(symbol, venuePayload) {
  const mid = mids.get(symbol);
  if (mid === undefined) {
    throw new ConnectError(`symbol ${symbol} is not listed`, Code.NotFound, undefined, [
      { desc: RejectReasonSchema, value: { reason: "not listed on this venue", symbol } },
    ]);
  }
  const next = Math.round((mid + (Math.random() - 0.5) * 0.1) * 100) / 100;
  mids.set(symbol, next);
  return {
    symbol,
    bid: Math.round((next - 0.01) * 100) / 100,
    ask: Math.round((next + 0.01) * 100) / 100,
    bidSize: 100n,
    askSize: 200n,
    timeNs: process.hrtime.bigint(),
    sequence: ++sequence,
    venuePayload,
  };
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** Registers MarketService: quotes, a quote feed, order batches and a trading session. */
export function marketRoutes(router) {
  router.service(MarketService, {
    // Unary: the current quote; the request's payload comes back as venue_payload.
    getQuote(req) {
      return quote(req.symbol, req.payload);
    },
    // Server streaming: `count` quotes round-robin over the symbols, `intervalMs` apart.
    async *subscribe(req, ctx) {
      const symbols = req.symbols.length > 0 ? req.symbols : LISTED;
      ctx.responseHeader.set("x-feed", "demo-top-of-book");
      for (let i = 0; i < req.count; i++) {
        if (req.intervalMs > 0) await sleep(req.intervalMs, ctx.signal);
        yield quote(symbols[i % symbols.length], new Uint8Array(req.payloadBytes).fill(i & 0xff));
      }
      ctx.responseTrailer.set("x-quotes-sent", String(req.count));
    },
    // Client streaming: a batch of orders, one summary with a digest of the order ids.
    async submitOrders(orders) {
      const ids = [];
      let total = 0n;
      for await (const order of orders) {
        ids.push(order.clientOrderId);
        total += order.quantity;
      }
      return { accepted: ids.length, totalQuantity: total, orderIds: ids, digest: createHash("sha256").update(ids.join(",")).digest() };
    },
    // Bidi: every order is acknowledged as it arrives; zero quantity is rejected.
    async *trade(orders) {
      let n = 0n;
      for await (const order of orders) {
        n++;
        yield {
          clientOrderId: order.clientOrderId,
          orderId: `X-${n}`,
          status: order.quantity > 0n && mids.has(order.symbol) ? AckStatus.ACCEPTED : AckStatus.REJECTED,
          signatureEcho: order.signature,
          sequence: n,
        };
      }
    },
  });
}
