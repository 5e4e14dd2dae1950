// Order entry with per-method latency histograms, in one command:
// `node examples/order-entry/main.js`.
//   1. starts the server (server.js) in a child process, with a latency interceptor;
//   2. runs --traders concurrent traders in this process (one engine shared by their
//      transports, one connection each, the same latency interceptor on every transport);
//      each places --orders orders: GetQuote, then PlaceOrder near the quote; every 5th
//      order is priced outside the band on purpose and must come back InvalidArgument
//      with a RejectReason detail; every 3rd accepted order is cancelled (CancelOrder);
//   3. prints the latency table per method as the clients saw it (call to response) and
//      as the server saw it (handler time), plus both sides' stats();
//   4. exits 0 when every outcome was the expected one, 1 otherwise.
// Over RDMA (two soft-RoCE devices, docs/SOFTROCE.md):
//   npx connect-rdma softroce run -- sh -c 'node examples/order-entry/main.js --url rdma://$SOFTROCE_SERVER_IP:0 --local $SOFTROCE_CLIENT_IP'
import { Code, ConnectError, createClient } from "@connectrpc/connect";

import { AckStatus, MarketService, RejectReasonSchema, Side } from "../gen/market/v1/market_pb.js";
import { OrderEntryService } from "../gen/orders/v1/orders_pb.js";
import { table, us } from "../lib/format.js";
import { clientTransports, exampleOptions } from "../lib/options.js";
import { startServerChild } from "../lib/server-child.js";
import { createLatencyRecorder } from "./latency-interceptor.js";
import { PRICES, PRICE_BAND } from "./server.js";

const options = exampleOptions("usage: node examples/order-entry/main.js [options]\n\nTraders place and cancel orders (unary calls); latency histograms per method on both sides.", {
  traders: [4, "concurrent traders (one connection each)"],
  orders: [250, "orders each trader places"],
});

async function trader(index, transport, tally) {
  const market = createClient(MarketService, transport);
  const orders = createClient(OrderEntryService, transport);
  const symbols = Object.keys(PRICES);
  for (let i = 0; i < options.orders; i++) {
    const symbol = symbols[(index + i) % symbols.length];
    const quote = await market.getQuote({ symbol });
    const offBand = i % 5 === 4;
    const price = offBand ? quote.ask * (1 + 2 * PRICE_BAND) : i % 2 === 0 ? quote.bid : quote.ask;
    const clientOrderId = `T${index}-${i}`;
    try {
      const ack = await orders.placeOrder({
        clientOrderId,
        symbol,
        side: i % 2 === 0 ? Side.BUY : Side.SELL,
        price,
        quantity: BigInt(100 * (1 + (i % 10))),
        signature: new TextEncoder().encode(clientOrderId),
        immediateOrCancel: false,
      });
      if (offBand || ack.status !== AckStatus.ACCEPTED || ack.clientOrderId !== clientOrderId) tally.unexpected.push(`${clientOrderId}: accepted ${ack.orderId}`);
      else tally.accepted++;
      if (tally.accepted % 3 === 0) {
        await orders.cancelOrder({ orderId: ack.orderId });
        tally.cancelled++;
      }
    } catch (error) {
      const e = ConnectError.from(error);
      const [detail] = e.findDetails(RejectReasonSchema);
      if (offBand && e.code === Code.InvalidArgument && detail?.symbol === symbol) tally.rejected++;
      else tally.unexpected.push(`${clientOrderId}: ${e.message}`);
    }
  }
}

function latencyTable(rows) {
  return table([
    ["method", "calls", "errors", "p50", "p90", "p99", "p99.9", "max"],
    ...rows.map((r) => [
      r.method,
      String(r.count),
      Object.entries(r.errors).map(([code, n]) => `${n} ${code}`).join(", ") || "0",
      us(r.p50),
      us(r.p90),
      us(r.p99),
      us(r.p999),
      us(r.max),
    ]),
  ]);
}

async function main() {
  const server = await startServerChild(new URL("./server.js", import.meta.url).pathname, [options.url]);
  console.log(`server: pid ${server.pid}, ${server.url}, engine ${server.engine}`);
  const latency = createLatencyRecorder();
  const clients = clientTransports(server.url, { local: options.local, count: options.traders, interceptors: [latency.interceptor] });
  console.log(`traders: ${options.traders} in pid ${process.pid}, engine ${clients.engine.name}, ${options.orders} orders each\n`);

  const tally = { accepted: 0, rejected: 0, cancelled: 0, unexpected: [] };
  const started = performance.now();
  await Promise.all(clients.transports.map((transport, i) => trader(i, transport, tally)));
  const seconds = (performance.now() - started) / 1000;
  const clientRows = latency.rows();
  const calls = clientRows.reduce((n, r) => n + r.count, 0);
  const sum = (key) => clients.transports.reduce((n, t) => n + t.stats()[key], 0);
  const clientCounters = `${sum("callsStarted")} calls, ${sum("messagesOut")} messages out, ${sum("copies")} copies, ${sum("reassembled")} reassembled`;
  await clients.close();
  latency.destroy();
  const report = await server.stop();

  console.log(`client side (call -> response), ${calls} calls in ${seconds.toFixed(2)} s = ${Math.round(calls / seconds)} calls/s:`);
  console.log(latencyTable(clientRows));
  console.log("\nserver side (handler time, measured by the same interceptor on createServer):");
  console.log(latencyTable(report.latency));
  console.log(`\norders: ${tally.accepted} accepted, ${tally.rejected} rejected on purpose (InvalidArgument + RejectReason), ${tally.cancelled} cancelled; ${report.resting} resting at the end`);
  console.log(`clients: ${clientCounters}`);
  console.log(`server:  ${report.stats.callsStarted} calls, ${report.stats.messagesIn} messages in, ${report.stats.copies} copies`);

  const total = options.traders * options.orders;
  const expectedRejected = options.traders * Math.floor(options.orders / 5);
  const problems = [...tally.unexpected];
  if (tally.rejected !== expectedRejected) problems.push(`expected ${expectedRejected} rejections, got ${tally.rejected}`);
  if (tally.accepted !== total - expectedRejected) problems.push(`expected ${total - expectedRejected} accepted, got ${tally.accepted}`);
  if (report.resting !== tally.accepted - tally.cancelled) problems.push(`server has ${report.resting} resting orders, expected ${tally.accepted - tally.cancelled}`);
  for (const p of problems.slice(0, 10)) console.error(`unexpected: ${p}`);
  console.log(problems.length === 0 ? "\nOK: every order had the expected outcome" : "\nFAILED");
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
