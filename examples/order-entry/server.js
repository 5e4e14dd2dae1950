// The order-entry server: OrderEntryService.PlaceOrder accepts or rejects one order
// (InvalidArgument with a market.v1.RejectReason detail: unknown symbol, bad quantity,
// price more than 5 % away from the quote), CancelOrder cancels a resting order (NotFound
// otherwise), MarketService.GetQuote gives the reference price. A latency interceptor
// records per-method handler time on this side. Runs as a child of main.js, or alone:
//   node examples/order-entry/server.js tcp://0.0.0.0:7002      (or rdma://<device ip>:7002)
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { autoEngine, createServer } from "connect-rdma";

import { AckStatus, MarketService, RejectReasonSchema } from "../gen/market/v1/market_pb.js";
import { OrderEntryService } from "../gen/orders/v1/orders_pb.js";
import { serveFromParent } from "../lib/server-child.js";
import { createLatencyRecorder } from "./latency-interceptor.js";

export const PRICES = { ACME: 101.5, GLOBX: 42.25, INITECH: 7.1, UMBRL: 250.0 };
export const PRICE_BAND = 0.05;

function reject(reason, order, code = Code.InvalidArgument) {
  const detail = create(RejectReasonSchema, { reason, symbol: order.symbol });
  return new ConnectError(`order ${order.clientOrderId} rejected: ${reason}`, code, undefined, [{ desc: RejectReasonSchema, value: detail }]);
}

/** The server with its book and its latency recorder; call server.listen(url). */
export function createOrderEntryServer() {
  const latency = createLatencyRecorder();
  const resting = new Map(); // order id -> order
  let sequence = 0n;
  const server = createServer({
    interceptors: [latency.interceptor],
    routes: (router) => {
      router.service(MarketService, {
        getQuote(request) {
          const mid = PRICES[request.symbol];
          if (mid === undefined) throw new ConnectError(`unknown symbol ${request.symbol}`, Code.NotFound);
          return { symbol: request.symbol, bid: mid - 0.01, ask: mid + 0.01, timeNs: process.hrtime.bigint() };
        },
      });
      router.service(OrderEntryService, {
        placeOrder(order) {
          const mid = PRICES[order.symbol];
          if (mid === undefined) throw reject("unknown symbol", order);
          if (order.quantity <= 0n) throw reject("quantity must be positive", order);
          if (Math.abs(order.price - mid) > mid * PRICE_BAND) throw reject(`price ${order.price} outside ${PRICE_BAND * 100} % of ${mid}`, order);
          const orderId = `O-${++sequence}`;
          resting.set(orderId, order);
          return { clientOrderId: order.clientOrderId, orderId, status: AckStatus.ACCEPTED, signatureEcho: order.signature, sequence };
        },
        cancelOrder(request) {
          const order = resting.get(request.orderId);
          if (!order) throw new ConnectError(`no resting order ${request.orderId}`, Code.NotFound);
          resting.delete(request.orderId);
          return { clientOrderId: order.clientOrderId, orderId: request.orderId, status: AckStatus.ACCEPTED, sequence: ++sequence };
        },
      });
    },
  });
  return { server, latency, resting };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.send) {
    serveFromParent(async (url) => {
      const { server, latency, resting } = createOrderEntryServer();
      const bound = await server.listen(url);
      return {
        url: bound,
        engine: url.startsWith("rdma://") ? "rdma" : autoEngine().engine,
        async stop() {
          await server.close();
          return { stats: server.stats(), latency: latency.rows(), resting: resting.size };
        },
      };
    });
  } else {
    const { server } = createOrderEntryServer();
    console.log(`order entry on ${await server.listen(process.argv[2] ?? "tcp://127.0.0.1:7002")} (Ctrl-C stops)`);
    process.once("SIGINT", () => server.close().then(() => process.exit(0)));
  }
}
