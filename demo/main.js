// `npm start`: what connect-rdma does on this machine, end to end, in two processes.
// An echo server runs in a child process (demo/echo-server.js); this process is the
// client and prints, step by step: the engine in use (io_uring, or the node:net fallback
// and why), capabilities(), echoes of several sizes checked byte for byte, round-trip
// percentiles of 64 B echoes, and both sides' counters. Exit code 0 when everything
// checked out, 1 with the reason otherwise. Each step is a function of `ctx`, so later
// demos (Connect RPCs) add steps instead of rewriting this file.
import { performance } from "node:perf_hooks";

import { connectEcho, pattern } from "./lib/echo-client.js";
import { columns, limit, micros, percentile, size } from "./lib/format.js";
import { ServerProcess } from "./lib/server-process.js";

const DEADLINE_MS = 15_000;
const LATENCY_WARMUP = 500;
const LATENCY_ECHOES = 5000;
const SERVER_SCRIPT = new URL("./echo-server.js", import.meta.url).pathname;

const ENGINE_NAMES = { uring: "io_uring", net: "node:net fallback" };

async function loadPackage() {
  try {
    return await import("connect-rdma");
  } catch (error) {
    throw new Error(`connect-rdma is not built (${error.message}).\nRun \`npm start\` (it builds first) or \`npx tsc -p . && npm run build:native\`.`);
  }
}

function stepCapabilities(ctx) {
  const caps = ctx.pkg.capabilities();
  const auto = ctx.pkg.autoEngine();
  ctx.engineKind = auto.engine;
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
    console.log("  Same channel API and wire format; io_uring would be used where the kernel allows it.");
  }
}

async function stepStartServer(ctx) {
  ctx.server = new ServerProcess(SERVER_SCRIPT, ["tcp://127.0.0.1:0"]);
  const ready = await ctx.server.next("ready", 8000);
  ctx.url = ready.url;
  console.log(`\nServer: child process ${ctx.server.pid}, listening on ${ready.url}, engine ${ready.engine}${ready.reason ? ` (${ready.reason})` : ""}`);
  ctx.engine = ctx.pkg.engineForUrl(ctx.url);
  ctx.client = await connectEcho(ctx.engine, ctx.url);
  console.log(`Client: this process ${process.pid}, connected, engine ${ctx.client.channel.engine}`);
}

async function stepEchoSizes(ctx) {
  // io_uring receives into fixed-size slots of the region; show both sides of the edge.
  const slot = ctx.engine.name === "uring" ? ctx.engine.region?.slotSize : undefined;
  const sizes = [[0], [1], [64], [4096]];
  if (slot) sizes.push([slot - 4, `${slot - 4} B (fills a slot)`], [slot - 3, `${slot - 3} B (one byte more)`]);
  sizes.push([1024 * 1024]);
  console.log(`\nEchoes, checked byte for byte${slot ? ` (receive slot: ${size(slot)}, 4 B of it for the frame header)` : ""}:`);
  const rows = [["size", "round trip", "arrived at the client as"]];
  for (const [length, label = size(length)] of sizes) {
    const before = ctx.client.channel.stats().reassembled;
    const rtt = await ctx.client.echo(pattern(length));
    const copied = ctx.client.channel.stats().reassembled > before;
    rows.push([label, micros(rtt), copied ? "reassembled: copied once into a lease" : "a view in place, no copy"]);
    ctx.echoes++;
  }
  console.log(columns(rows));
}

async function stepLatency(ctx) {
  const bytes = pattern(64);
  for (let i = 0; i < LATENCY_WARMUP; i++) await ctx.client.echo(bytes);
  const samples = new Float64Array(LATENCY_ECHOES);
  const started = performance.now();
  for (let i = 0; i < LATENCY_ECHOES; i++) samples[i] = await ctx.client.echo(bytes);
  const seconds = (performance.now() - started) / 1000;
  ctx.echoes += LATENCY_WARMUP + LATENCY_ECHOES;
  samples.sort();
  console.log(`\nRound trips of ${LATENCY_ECHOES} echoes of 64 B, one at a time (after ${LATENCY_WARMUP} warm-up):`);
  console.log(
    columns([
      ["p50", "p90", "p99", "p99.9", "max", "rate"],
      [...[50, 90, 99, 99.9, 100].map((p) => micros(percentile(samples, p))), `${Math.round(LATENCY_ECHOES / seconds)} round trips/s`],
    ]),
  );
  console.log("  (event mode: each side sleeps between messages; `npm run bench` compares with raw node:net and spin mode)");
}

async function stepCounters(ctx) {
  const server = await ctx.server.request("stats");
  const client = { channel: ctx.client.channel.stats(), engine: ctx.engine.stats?.() ?? {} };
  const channelKeys = ["framesIn", "framesOut", "bytesIn", "bytesOut", "reassembled", "reassembledBytes"];
  const engineKeys = ["recvCompletions", "submits", "batches", "bufferStarvations"].filter((k) => k in client.engine);
  const row = (label, get) => [label, String(get(client) ?? "–"), String(get(server) ?? "–")];
  console.log("\nCounters (channel.stats() and engine.stats()):");
  console.log(
    columns([
      ["", "client", "server"],
      ...channelKeys.map((k) => row(`channel ${k}`, (s) => s.channel?.[k])),
      ...engineKeys.map((k) => row(`engine ${k}`, (s) => s.engine?.[k])),
    ]),
  );
}

async function stepClose(ctx) {
  ctx.client.channel.close();
  await ctx.engine.close();
  await ctx.server.stop();
  ctx.server = undefined;
}

async function main() {
  const started = performance.now();
  const ctx = { echoes: 0 };
  console.log("connect-rdma demo: an echo server in a child process, this process as its client\n");
  const deadline = setTimeout(() => fail(ctx, new Error(`the demo did not finish within ${DEADLINE_MS / 1000} s`)), DEADLINE_MS);
  try {
    ctx.pkg = await loadPackage();
    for (const step of [stepCapabilities, stepStartServer, stepEchoSizes, stepLatency, stepCounters, stepClose]) await step(ctx);
  } catch (error) {
    await fail(ctx, error);
    return;
  } finally {
    clearTimeout(deadline);
  }
  console.log(`\nOK: ${ctx.echoes} echoes, all byte-exact, in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}

async function fail(ctx, error) {
  console.error(`\nDEMO FAILED: ${error?.message ?? error}`);
  process.exitCode = 1;
  await ctx.server?.stop(500).catch(() => undefined);
  process.exit(1);
}

main();
