// Market-data fan-out, in one command: `node examples/market-data/main.js`.
//   1. starts the server (server.js) in a child process: one QuoteFeed ticking every symbol;
//   2. opens --subscribers clients in this process (one engine shared by their transports,
//      one connection each), each subscribing to its own symbols plus ACME, which all of
//      them share: every ACME tick is fanned out to every subscriber;
//   3. each takes --quotes quotes from its server stream and checks them: per-symbol
//      sequence numbers without gaps, and the delivery latency (now − quote.time_ns: the
//      feed's monotonic clock, comparable because both processes run on this machine);
//   4. prints one row per subscriber, the transports' and the server's counters, exits 0
//      when every subscriber got every quote in order, 1 otherwise.
// Over RDMA (two soft-RoCE devices, docs/SOFTROCE.md):
//   npx connect-rdma softroce run -- sh -c 'node examples/market-data/main.js --url rdma://$SOFTROCE_SERVER_IP:0 --local $SOFTROCE_CLIENT_IP'
import { createClient } from "@connectrpc/connect";
import hdr from "hdr-histogram-js";

import { MarketService } from "../gen/market/v1/market_pb.js";
import { table, us } from "../lib/format.js";
import { clientTransports, exampleOptions } from "../lib/options.js";
import { startServerChild } from "../lib/server-child.js";
import { SYMBOLS } from "./server.js";

const options = exampleOptions("usage: node examples/market-data/main.js [options]\n\nOne server streams quotes to several subscribers (server streaming fan-out).", {
  subscribers: [4, "subscribing clients"],
  quotes: [500, "quotes each subscriber takes"],
  "payload-bytes": [0, "bytes of venue_payload per quote"],
});

async function subscriber(client, index, symbols) {
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60e9, numberOfSignificantValueDigits: 3 });
  const lastSequence = new Map();
  let received = 0;
  let gaps = 0;
  let error;
  try {
    const stream = client.subscribe({ symbols, count: options.quotes, payloadBytes: options["payload-bytes"] });
    for await (const quote of stream) {
      latency.recordValue(Math.max(1, Number(process.hrtime.bigint() - quote.timeNs)));
      const last = lastSequence.get(quote.symbol);
      if (last !== undefined && quote.sequence !== last + 1n) gaps++;
      lastSequence.set(quote.symbol, quote.sequence);
      if (quote.venuePayload.byteLength !== options["payload-bytes"]) gaps++;
      received++;
    }
  } catch (e) {
    error = e;
  }
  const row = { index, symbols, received, gaps, p50: latency.getValueAtPercentile(50), p99: latency.getValueAtPercentile(99), max: latency.maxValue, error };
  latency.destroy();
  return row;
}

async function main() {
  const server = await startServerChild(new URL("./server.js", import.meta.url).pathname, [options.url]);
  console.log(`server: pid ${server.pid}, ${server.url}, engine ${server.engine}`);
  const clients = clientTransports(server.url, { local: options.local, count: options.subscribers });
  console.log(`subscribers: ${options.subscribers} in pid ${process.pid}, engine ${clients.engine.name}, ${options.quotes} quotes each\n`);

  const started = performance.now();
  const rows = await Promise.all(
    clients.transports.map((transport, i) => {
      const own = SYMBOLS.slice(1).filter((_, j) => j % options.subscribers === i);
      return subscriber(createClient(MarketService, transport), i, ["ACME", ...own]);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const last = await createClient(MarketService, clients.transports[0]).getQuote({ symbol: "ACME" });

  console.log(
    table([
      ["subscriber", "symbols", "quotes", "gaps", "latency p50", "p99", "max"],
      ...rows.map((r) => [String(r.index), r.symbols.join(","), String(r.received), String(r.gaps), us(r.p50), us(r.p99), us(r.max)]),
    ]),
  );
  const total = rows.reduce((n, r) => n + r.received, 0);
  console.log(`\n${total} quotes in ${seconds.toFixed(2)} s (${Math.round(total / seconds)} quotes/s across subscribers); last ACME: bid ${last.bid} ask ${last.ask} (GetQuote)`);
  const sum = (key) => clients.transports.reduce((n, t) => n + t.stats()[key], 0);
  console.log(`clients: ${sum("messagesIn")} messages in, ${sum("framesIn")} frames, ${sum("reassembled")} reassembled, ${sum("copies")} copies`);

  await clients.close();
  const { stats } = await server.stop();
  console.log(`server:  ${stats.callsStarted} calls, ${stats.messagesOut} messages out (${stats.bytesOut} B), ${stats.framesOut} frames`);

  const failed = rows.filter((r) => r.error || r.gaps > 0 || r.received !== options.quotes);
  for (const r of failed) console.error(`subscriber ${r.index}: ${r.error ? `failed: ${r.error.message}` : `${r.received}/${options.quotes} quotes, ${r.gaps} gaps`}`);
  console.log(failed.length === 0 ? "\nOK: every subscriber got every quote, in order" : "\nFAILED");
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
