// `npm start`: connect-rdma as a Connect transport, end to end, in two processes. The
// market service (demo/lib/market-service.js, generated code shared with examples/gen) runs in a child
// process (demo/market-server.js), served by connect-rdma's createServer and, for
// comparison, by connect-node on HTTP/2. This process is the client and prints, step by
// step: the engine in use (io_uring, or the node:net fallback and why), unary calls (a
// quote, a payload checked byte for byte, an error with details), a server stream with
// headers and trailers, a client stream, a bidi stream, then unary latencies of
// connect-rdma side by side with connect-node over HTTP/2, and both sides' counters.
// Exit code 0 when every check passed, 1 with the reason otherwise; at most DEADLINE_MS.
import { performance } from "node:perf_hooks";

import { columns, limit, micros, percentile, size } from "./lib/format.js";
import { LISTED } from "./lib/market-service.js";
import { ServerProcess } from "./lib/server-process.js";

const DEADLINE_MS = 30_000;
const SERVER_SCRIPT = new URL("./market-server.js", import.meta.url).pathname;
const ENGINE_NAMES = { uring: "io_uring", net: "node:net fallback" };

// Latency comparison: calls one at a time, alternating blocks so both transports see
// the same machine; then a short window with 64 calls in flight. Bounded by time as well
// as by count, so a busy machine gets a shorter comparison instead of a failed demo.
const WARMUP_CALLS = 300;
const WARMUP_MS = 1_000;
const BLOCKS = 4;
const CALLS_PER_BLOCK = 400;
const LATENCY_BUDGET_MS = 5_000;
const THROUGHPUT_MS = 600;
const THROUGHPUT_INFLIGHT = 64;

async function loadModules() {
  try {
    const [pkg, connect, connectNode, gen] = await Promise.all([
      import("connect-rdma"),
      import("@connectrpc/connect"),
      import("@connectrpc/connect-node"),
      import("../examples/gen/market/v1/market_pb.js"),
    ]);
    return { pkg, connect, connectNode, gen };
  } catch (error) {
    throw new Error(`connect-rdma is not built (${error.message}).\nRun \`npm start\` (it builds first) or \`npx tsc -p . && npm run build:native\`.`);
  }
}

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

function price(n) {
  return n.toFixed(2).padStart(7);
}

function stepCapabilities(ctx) {
  const caps = ctx.pkg.capabilities();
  const auto = ctx.pkg.autoEngine();
  console.log("Capabilities of this machine and process (capabilities()):");
  console.log(
    columns([
      ["io_uring", caps.ioUring.available ? "available" : `unavailable: ${caps.ioUring.reason}`],
      ["RDMA", caps.rdma.available ? `available, devices: ${caps.rdma.devices.join(", ")}` : `unavailable: ${(caps.rdma.reason ?? "").replace(/^RDMA unavailable: /, "")}`],
      ["memlock", `${limit(caps.memlock.soft)} soft / ${limit(caps.memlock.hard)} hard (bounds registered memory)`],
    ]),
  );
  const why = auto.reason ? ` (${auto.reason})` : "";
  console.log(`\nEngine for tcp:// here: ${auto.engine} = ${ENGINE_NAMES[auto.engine] ?? auto.engine}${why}`);
  if (auto.engine === "net" && !process.env.CONNECT_RDMA_ENGINE) {
    console.log("  Same Connect API and wire format; io_uring would be used where the kernel allows it.");
  }
}

async function stepStartServer(ctx) {
  ctx.server = new ServerProcess(SERVER_SCRIPT, ["tcp://127.0.0.1:0"]);
  const ready = await ctx.server.next("ready", 10_000);
  console.log(`\nServer: child process ${ctx.server.pid}, the same MarketService handlers served`);
  console.log(columns([
    ["connect-rdma", `${ready.url} (createServer, engine ${ready.engine}${ready.reason ? `: ${ready.reason}` : ""})`],
    ["connect-node", `${ready.h2Url} (connectNodeAdapter on node:http2, h2c)`],
  ]));
  const { createUringTransport } = ctx.pkg;
  const { createClient } = ctx.connect;
  const { createConnectTransport } = ctx.connectNode;
  ctx.transport = createUringTransport({ url: ready.url });
  ctx.client = createClient(ctx.gen.MarketService, ctx.transport);
  ctx.h2Client = createClient(ctx.gen.MarketService, createConnectTransport({ baseUrl: ready.h2Url, httpVersion: "2" }));
  console.log(`Client: this process ${process.pid}: createClient(MarketService, createUringTransport({ url }))`);
}

async function stepUnary(ctx) {
  const { Code, ConnectError } = ctx.connect;
  console.log("\nUnary calls:");
  const q = await ctx.client.getQuote({ symbol: "AAPL" });
  check(q.symbol === "AAPL" && q.ask > q.bid, "a quote for AAPL with ask above bid");
  console.log(`  getQuote(AAPL)         -> bid ${price(q.bid)} / ask ${price(q.ask)}, sequence ${q.sequence}`);

  const payload = new Uint8Array(4096).map((_, i) => (i * 31 + 7) & 0xff);
  const echoed = await ctx.client.getQuote({ symbol: "MSFT", payload });
  check(echoed.venuePayload.length === payload.length && echoed.venuePayload.every((b, i) => b === payload[i]), "the 4 KiB payload comes back byte for byte");
  console.log(`  getQuote(MSFT, ${size(payload.length)})  -> venue_payload of ${size(echoed.venuePayload.length)}, byte-exact`);

  try {
    await ctx.client.getQuote({ symbol: "NOPE" });
    throw new Error("check failed: an unlisted symbol must fail");
  } catch (error) {
    const e = ConnectError.from(error);
    check(e.code === Code.NotFound, `NotFound for an unlisted symbol (got ${Code[e.code]})`);
    const [detail] = e.findDetails(ctx.gen.RejectReasonSchema);
    check(detail?.symbol === "NOPE", "the RejectReason detail names the symbol");
    console.log(`  getQuote(NOPE)         -> ConnectError ${Code[e.code]}: "${e.rawMessage}", detail RejectReason { reason: "${detail.reason}" }`);
  }
  ctx.calls += 3;
}

async function stepServerStream(ctx) {
  console.log("\nServer streaming: subscribe({ symbols: [AAPL, NVDA], count: 6, intervalMs: 20 })");
  let header;
  let trailer;
  const rows = [["#", "symbol", "bid", "ask", "arrived after"]];
  const started = performance.now();
  for await (const q of ctx.client.subscribe(
    { symbols: ["AAPL", "NVDA"], count: 6, intervalMs: 20 },
    { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
  )) {
    rows.push([String(rows.length), q.symbol, price(q.bid), price(q.ask), `${Math.round(performance.now() - started)} ms`]);
  }
  check(rows.length === 7, "6 quotes streamed");
  check(header?.get("x-feed") === "demo-top-of-book" && trailer?.get("x-quotes-sent") === "6", "response header and trailer arrived");
  console.log(columns(rows));
  console.log(`  header x-feed: ${header.get("x-feed")}, trailer x-quotes-sent: ${trailer.get("x-quotes-sent")}`);
  ctx.calls++;
}

async function stepClientStream(ctx) {
  async function* orders() {
    for (let i = 1; i <= 5; i++) yield { clientOrderId: `batch-${i}`, symbol: LISTED[i % LISTED.length], price: 100 + i, quantity: BigInt(i * 10) };
  }
  const summary = await ctx.client.submitOrders(orders());
  check(summary.accepted === 5 && summary.totalQuantity === 150n && summary.digest.length === 32, "5 orders, 150 shares, a SHA-256 digest");
  console.log("\nClient streaming: submitOrders(5 orders)");
  console.log(`  -> accepted ${summary.accepted}, total quantity ${summary.totalQuantity}, ids ${summary.orderIds.join(" ")}, digest ${Buffer.from(summary.digest).toString("hex").slice(0, 16)}…`);
  ctx.calls++;
}

async function stepBidi(ctx) {
  console.log("\nBidi streaming: trade() — each order sent only after the previous ack arrived");
  const pending = [];
  let wake;
  let ended = false;
  const orders = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (pending.length > 0) yield pending.shift();
        if (ended) return;
        await new Promise((resolve) => (wake = resolve));
      }
    },
  };
  const send = (order) => {
    pending.push(order);
    wake?.();
  };
  const plan = [
    { clientOrderId: "t-1", symbol: "NVDA", quantity: 5n, signature: new Uint8Array([1, 2, 3]) },
    { clientOrderId: "t-2", symbol: "AMZN", quantity: 0n, signature: new Uint8Array([4]) },
    { clientOrderId: "t-3", symbol: "MSFT", quantity: 7n, signature: new Uint8Array([5, 6]) },
  ];
  const acks = ctx.client.trade(orders)[Symbol.asyncIterator]();
  const rows = [["order", "ack", "status", "signature echo"]];
  for (const order of plan) {
    send(order);
    const { value: ack, done } = await acks.next();
    check(!done && ack.clientOrderId === order.clientOrderId, `an ack for ${order.clientOrderId} before the next order`);
    check(ack.signatureEcho.every((b, i) => b === order.signature[i]), "the signature comes back");
    rows.push([order.clientOrderId, ack.orderId, ctx.gen.AckStatus[ack.status], `[${[...ack.signatureEcho].join(", ")}]`]);
  }
  ended = true;
  wake?.();
  check((await acks.next()).done === true, "the stream ends after the last ack");
  check(rows[2][2] === "REJECTED" && rows[1][2] === "ACCEPTED", "zero quantity is rejected, the others accepted");
  console.log(columns(rows));
  ctx.calls++;
}

/** Up to `n` calls one at a time, at most `ms`; each one's time in µs goes to `samples`. Returns the calls made. */
async function timeCalls(client, n, samples, ms = Infinity) {
  const payload = new Uint8Array(64).fill(0x61);
  const end = performance.now() + ms;
  let i = 0;
  for (; i < n && performance.now() < end; i++) {
    const t0 = performance.now();
    await client.getQuote({ symbol: "AAPL", payload });
    samples.push((performance.now() - t0) * 1000);
  }
  return i;
}

async function callsPerSecond(client, inflight, ms) {
  const payload = new Uint8Array(64).fill(0x61);
  const end = performance.now() + ms;
  let done = 0;
  const lanes = Array.from({ length: inflight }, async () => {
    while (performance.now() < end) {
      await client.getQuote({ symbol: "AAPL", payload });
      done++;
    }
  });
  const start = performance.now();
  await Promise.all(lanes);
  return done / ((performance.now() - start) / 1000);
}

async function stepLatency(ctx) {
  const ours = [];
  const theirs = [];
  const warm = (await timeCalls(ctx.client, WARMUP_CALLS, [], WARMUP_MS)) + (await timeCalls(ctx.h2Client, WARMUP_CALLS, [], WARMUP_MS));
  const budgetEnd = performance.now() + LATENCY_BUDGET_MS;
  let blocks = 0;
  while (blocks < BLOCKS && (blocks === 0 || performance.now() < budgetEnd)) {
    await timeCalls(ctx.client, CALLS_PER_BLOCK, ours);
    await timeCalls(ctx.h2Client, CALLS_PER_BLOCK, theirs);
    blocks++;
  }
  const oursRate = await callsPerSecond(ctx.client, THROUGHPUT_INFLIGHT, THROUGHPUT_MS);
  const theirsRate = await callsPerSecond(ctx.h2Client, THROUGHPUT_INFLIGHT, THROUGHPUT_MS);
  ours.sort((a, b) => a - b);
  theirs.sort((a, b) => a - b);
  ctx.calls += warm + ours.length + theirs.length;
  const n = blocks * CALLS_PER_BLOCK;
  const shortened = blocks < BLOCKS ? ` (${BLOCKS} blocks planned: this machine is busy, so the comparison stopped after ${LATENCY_BUDGET_MS / 1000} s)` : "";
  console.log(`\nUnary getQuote with a 64 B payload, one call at a time (${n} calls each, alternating blocks of ${CALLS_PER_BLOCK}, after at most ${WARMUP_CALLS} warm-up in ${WARMUP_MS / 1000} s)${shortened},`);
  console.log(`then ${THROUGHPUT_INFLIGHT} calls in flight for ${THROUGHPUT_MS} ms:`);
  const row = (label, s, rate) => [label, ...[50, 90, 99].map((p) => micros(percentile(s, p))), `${Math.round(rate).toLocaleString("en-US")} calls/s`];
  console.log(
    columns([
      ["", "p50", "p90", "p99", `${THROUGHPUT_INFLIGHT} in flight`],
      row("connect-rdma", ours, oursRate),
      row("connect-node HTTP/2", theirs, theirsRate),
      ["ratio", ...[50, 90, 99].map((p) => `${(percentile(ours, p) / percentile(theirs, p)).toFixed(2)}x`), `${(oursRate / theirsRate).toFixed(1)}x`],
    ]),
  );
  console.log("  (a short run on a shared machine; `npm run bench:connect` measures it properly, with repeats and pinned processes)");
}

async function stepCounters(ctx) {
  const { stats: server } = await ctx.server.request("stats");
  const client = ctx.transport.stats();
  const keys = ["connections", "callsStarted", "messagesIn", "messagesOut", "copies", "sendCopies", "framesIn", "framesOut", "reassembled"];
  console.log("\nCounters of connect-rdma (transport.stats(), server.stats()):");
  console.log(columns([["", "client", "server"], ...keys.map((k) => [k, String(client[k]), String(server[k])])]));
  check(server.callsStarted >= ctx.calls && client.callsStarted === server.callsStarted, "every call reached the server once");
  check(client.sendCopies === 0 && server.sendCopies === 0, "no copies on send: every message was encoded straight into the region");
  console.log("  copies: the bytes fields copied out of received messages (default \"copy\" policy)");
}

async function stepClose(ctx) {
  await ctx.transport.close();
  await ctx.server.stop();
  ctx.server = undefined;
}

async function main() {
  const started = performance.now();
  const ctx = { calls: 0 };
  console.log("connect-rdma demo: a Connect service in a child process, this process as its client\n");
  const deadline = setTimeout(() => fail(ctx, new Error(`the demo did not finish within ${DEADLINE_MS / 1000} s`)), DEADLINE_MS);
  try {
    Object.assign(ctx, await loadModules());
    for (const step of [stepCapabilities, stepStartServer, stepUnary, stepServerStream, stepClientStream, stepBidi, stepLatency, stepCounters, stepClose]) {
      await step(ctx);
    }
  } catch (error) {
    await fail(ctx, error);
    return;
  } finally {
    clearTimeout(deadline);
  }
  console.log(`\nOK: every RPC kind over connect-rdma, all checks passed, in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}

async function fail(ctx, error) {
  console.error(`\nDEMO FAILED: ${error?.message ?? error}`);
  process.exitCode = 1;
  await ctx.transport?.close().catch(() => undefined);
  await ctx.server?.stop(500).catch(() => undefined);
  process.exit(1);
}

main();
