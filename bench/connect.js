// The Connect benchmark (`npm run bench:connect`; method in bench/README.md): a 64 B
// unary echo RPC through each RPC stack of lib/rpc-drivers.js — ours on io_uring (TCP
// event and spin, Unix) and on the node:net engine, connect-node over HTTP/2 (Connect
// and gRPC protocols), @grpc/grpc-js — beside the raw channel echo it is built on, at 1
// and 64 calls in flight, server and client in separate pinned processes, repeated in
// interleaved rounds. Prints the results and the targets of issues 3 and 5 (paired
// ratios per round) as markdown, writes results/connect-<timestamp>.json and .svg.
// `--workload stream` (npm run bench:stream) measures a server stream instead: one
// stream on one connection per run, 64 B and 64 KiB messages, messages/s and MB/s
// (results/stream-<timestamp>.json and .svg, a bar plot).
import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

import hdr from "hdr-histogram-js";

import { interleavedPlan, positiveInt, runMain } from "./lib/cli.js";
import { pinningPlan, waitForIdle } from "./lib/cpu.js";
import { machineInfo } from "./lib/machine.js";
import { barPlotSvg, latencyPlotSvg, percentileCurve } from "./lib/plot-svg.js";
import { progress } from "./lib/progress.js";
import { DEFAULT_RPC_DRIVERS, RPC_DRIVERS, rpcDriverById } from "./lib/rpc-drivers.js";
import { runRpcOnce } from "./lib/rpc-run.js";
import { CLEAN_FOREIGN_PCT, RPC_TARGETS, checkRpcTargets, rpcResultsTable, rpcStreamTable, rpcTargetsTable, summarizeRpc } from "./lib/rpc-summary.js";
import { selectRuns } from "./lib/summary.js";

const REFERENCE = "connect-node-h2";
const COLORS = ["#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#1f77b4", "#17becf", "#2ca02c", "#222222"];
const colorOf = (id) => COLORS[RPC_DRIVERS.findIndex((d) => d.id === id) % COLORS.length];

const USAGE = `usage: node bench/connect.js [options]
  --quick               short pass: 3 repeats, 0.3 s warm-up, 1 s measured per run
  --reps N              repeats of every configuration, interleaved (default 3)
  --warmup-ms MS        warm-up per run, not recorded (default: unary 3000, stream 700;
                        quick 300). Unary at 1 in flight reaches its steady state only
                        after ~2-3 s of calls (bench/README.md, "Warm-up")
  --measure-ms MS       measured window per run (default 2000)
  --workload KIND       unary (default): the Echo round trip; stream: a server stream of
                        Stream messages, one stream on one connection per run
  --fresh               stream: the handler builds a fresh message (a new payload array)
                        per item instead of yielding one prebuilt message
  --inflight LIST       unary: calls in flight, comma-separated (default 1,64)
  --payload LIST        bytes field of the message, comma-separated (default: unary 64,
                        stream 64,65536)
  --drivers LIST        comma-separated, from: ${RPC_DRIVERS.map((d) => d.id).join(", ")}
                        (default: all but the RDMA ones, which run in bench/rdma-guest.js;
                        stream: also not channel-echo-uring-tcp)
  --idle-wait-ms MS     before each run, wait up to MS for the box to be >= 92 % idle (default 3000)
  --no-pin              do not pin client and server to CPUs with taskset
  --cpu-prof DIR        RPC children write V8 CPU profiles (DIR/{driver}-{client,server}-PID.cpuprofile)
  --out DIR             where connect-<timestamp>.json/.svg (stream-… for streams) go (default bench/results)
  --help`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      reps: { type: "string" },
      "warmup-ms": { type: "string" },
      "measure-ms": { type: "string" },
      workload: { type: "string", default: "unary" },
      fresh: { type: "boolean", default: false },
      inflight: { type: "string", default: "1,64" },
      payload: { type: "string" },
      drivers: { type: "string" },
      "idle-wait-ms": { type: "string", default: "3000" },
      "no-pin": { type: "boolean", default: false },
      "cpu-prof": { type: "string" },
      out: { type: "string", default: new URL("./results/", import.meta.url).pathname },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) return { help: USAGE };
  const rpc = values.workload;
  if (rpc !== "unary" && rpc !== "stream") throw new RangeError(`--workload must be unary or stream, got ${rpc}`);
  const payloads = (values.payload ?? (rpc === "stream" ? "64,65536" : "64")).split(",").map((n) => positiveInt("--payload", n, 4));
  const drivers = values.drivers
    ? values.drivers.split(",").map((id) => rpcDriverById(id.trim()))
    : DEFAULT_RPC_DRIVERS.filter((d) => (rpc === "unary" || d.kind !== "channel-echo") && (d.only === undefined || d.only === rpc));
  if (rpc === "stream" && drivers.some((d) => d.kind === "channel-echo")) throw new RangeError("the channel-echo driver has no server stream");
  const inflight = rpc === "stream" ? [1] : values.inflight.split(",").map((n) => positiveInt("--inflight", n));
  if (values.fresh && rpc !== "stream") throw new RangeError("--fresh applies to --workload stream only");
  // The server children inherit it (lib/rpc-service.js streamItem).
  if (values.fresh) process.env.BENCH_STREAM_FRESH = "1";
  return {
    rpc,
    reps: positiveInt("--reps", values.reps ?? "3"),
    warmupMs: positiveInt("--warmup-ms", values["warmup-ms"] ?? (values.quick ? "300" : rpc === "unary" ? "3000" : "700"), 0),
    measureMs: positiveInt("--measure-ms", values["measure-ms"] ?? (values.quick ? "1000" : "2000")),
    idleWaitMs: positiveInt("--idle-wait-ms", values["idle-wait-ms"], 0),
    // A stream workload has inflight 1: one stream on one connection.
    workloads: payloads.flatMap((payloadBytes) => inflight.map((n) => ({ rpc, payloadBytes, inflight: n, ...(values.fresh ? { fresh: true } : {}) }))),
    drivers,
    pin: !values["no-pin"],
    cpuProfDir: values["cpu-prof"],
    outDir: values.out,
  };
}

/** Round by round, each workload, drivers in an order rotated every round. */
const where = (pinning) => (pinning.pinned ? `client on CPU ${pinning.client}, server on CPU ${pinning.server} (taskset)` : `unpinned (${pinning.reason})`);
const sizeLabel = (bytes) => (bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`);

/** Bars of messages/s (small messages) or MB/s (≥ 4 KiB) per driver, one panel per payload. */
function streamPlot(rows, options, machine, pinning, startedAt) {
  const panels = options.workloads.map((workload) => {
    const bulk = workload.payloadBytes >= 4096;
    const metric = bulk ? "mbPerSec" : "messagesPerSec";
    const target = RPC_TARGETS.find((t) => t.rpc === "stream" && t.absolute.payloadBytes === workload.payloadBytes && t.absolute.metric === metric);
    return {
      title: `server stream, ${sizeLabel(workload.payloadBytes)} messages, one stream on one connection`,
      unit: bulk ? "MB/s of payload (median, whisker min–max)" : "messages/s (median, whisker min–max)",
      target: target && { value: target.goal.value, label: `target ${target.goal.value.toLocaleString("en-US")} ${target.goal.unit}` },
      bars: rows
        .filter((r) => r.payloadBytes === workload.payloadBytes)
        .map((row) => ({
          label: row.label,
          color: colorOf(row.driver),
          dashed: row.kind !== "ours",
          ...(row[metric] ?? { median: null }),
          note: row.ok ? (bulk ? `${Math.round(row.messagesPerSec.median)} msg/s` : `${row.mbPerSec.median.toFixed(1)} MB/s`) : undefined,
        })),
    };
  });
  return barPlotSvg({
    title: "connect-rdma: server-stream throughput",
    panels,
    footer: [
      `${startedAt} · ${machine.cpuModel} × ${machine.cores} · Linux ${machine.kernelRelease} · Node ${machine.node} · ${where(pinning)}`,
      `Medians over the clean runs (foreign CPU <= ${CLEAN_FOREIGN_PCT} %, when at least two); ${options.reps} interleaved repeats, ${options.measureMs} ms measured each. Pale, dashed: not ours.`,
    ],
  });
}

function plot(runs, options, machine, pinning, startedAt) {
  const panels = options.workloads.map((workload) => ({
    title: `${workload.payloadBytes} B unary, ${workload.inflight} in flight`,
    series: options.drivers.flatMap((driver) => {
      const { runs: used } = selectRuns(runs.filter((r) => r.driver === driver.id && r.inflight === workload.inflight && r.payloadBytes === workload.payloadBytes));
      if (used.length === 0) return [];
      const merged = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60e9, numberOfSignificantValueDigits: 3 });
      for (const run of used) merged.add(hdr.decodeFromCompressedBase64(run.histogram));
      return [{ label: driver.label, color: colorOf(driver.id), dashed: driver.kind !== "ours", points: percentileCurve(merged) }];
    }),
  }));
  const legend = options.drivers.map((d) => ({ label: d.label, color: colorOf(d.id), dashed: d.kind !== "ours" }));
  return latencyPlotSvg({
    title: "connect-rdma: unary RPC round trip by percentile",
    panels,
    legend,
    footer: [
      `${startedAt} · ${machine.cpuModel} × ${machine.cores} · Linux ${machine.kernelRelease} · Node ${machine.node} · ${where(pinning)}`,
      `Each curve merges that driver's runs (clean: foreign CPU <= ${CLEAN_FOREIGN_PCT} %, when at least two); ${options.reps} interleaved repeats, ${options.measureMs} ms measured each. Dashed: not ours.`,
    ],
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : null;
};

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    console.log(options.help);
    return 0;
  }
  // Children inherit the environment; they profile themselves (lib/self-profile.js).
  if (options.cpuProfDir) process.env.CONNECT_BENCH_CPU_PROF = options.cpuProfDir;
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const pinning = pinningPlan(options.pin);
  const todo = interleavedPlan(options);
  const stream = options.rpc === "stream";
  const bar = progress(todo.length);
  process.stderr.write(
    `connect benchmark (${options.rpc}): ${options.drivers.length} drivers × ${options.workloads.length} workloads × ${options.reps} repeats = ${todo.length} runs; ` +
      `${pinning.pinned ? `client on CPU ${pinning.client}, server on CPU ${pinning.server}` : `unpinned (${pinning.reason})`}\n`,
  );

  const runs = [];
  for (const [index, item] of todo.entries()) {
    const name = stream ? `${item.driver.id} ${sizeLabel(item.workload.payloadBytes)} rep ${item.rep}` : `${item.driver.id} ×${item.workload.inflight} rep ${item.rep}`;
    bar.update(`${name}: waiting for an idle box`);
    const idle = await waitForIdle({ maxMs: options.idleWaitMs });
    bar.update(`${name}: running`);
    const record = await runRpcOnce(item.driver, { workload: item.workload, runNumber: index, warmupMs: options.warmupMs, measureMs: options.measureMs, pinning });
    Object.assign(record, { rep: item.rep, order: index, idleBefore: idle });
    runs.push(record);
    const figures = !record.ok
      ? undefined
      : stream
        ? `${Math.round(record.messagesPerSec)} msg/s, ${record.mbPerSec.toFixed(1)} MB/s`
        : `p50 ${record.p50Us.toFixed(1)} µs, ${Math.round(record.callsPerSec)} calls/s`;
    bar.step(record.ok ? `${name}: ${figures}, foreign ${record.foreignPct.toFixed(0)} %` : `${name}: FAILED ${record.error.split("\n")[0]}`);
  }
  bar.end();

  const rows = summarizeRpc(runs, options.drivers, options.workloads, REFERENCE);
  const payloads = [...new Set(options.workloads.map((w) => w.payloadBytes))];
  const targets = checkRpcTargets(runs, rows, payloads[0], options.rpc, process.env.BENCH_STREAM_FRESH === "1");
  const stamp = startedAt.replace(/[:.]/g, "-");
  await mkdir(options.outDir, { recursive: true });
  const base = stream ? "stream" : "connect";
  const jsonPath = join(options.outDir, `${base}-${stamp}.json`);
  const svgPath = join(options.outDir, `${base}-${stamp}.svg`);
  const result = {
    benchmark: stream ? "connect-rdma server stream" : "connect-rdma unary RPC",
    startedAt,
    finishedAt: new Date().toISOString(),
    argv: process.argv.slice(2),
    machine: { ...machine, loadAvgAtEnd: loadavg() },
    pinning,
    method: {
      reps: options.reps,
      warmupMs: options.warmupMs,
      measureMs: options.measureMs,
      idleWaitMs: options.idleWaitMs,
      cleanForeignPct: CLEAN_FOREIGN_PCT,
      workloads: options.workloads,
      reference: REFERENCE,
      ...(stream
        ? {
            stream: `one BenchService/Stream call (count 0: until cancelled) on one connection; the server yields ${process.env.BENCH_STREAM_FRESH === "1" ? "a fresh message (new payload array) per item (--fresh)" : "one prebuilt message"} as fast as the stream accepts it`,
            throughput: "messages and payload bytes received by the client inside the measured window (clock read about once per 64 KiB) / the window's actual length; MB = 1e6 bytes",
            cpuPerMessage: "client and server CPU ticks over the parent's window (from the client's 'measuring' to its 'measured' message) / (messages/s × that window)",
            copies: "ours: stats().copies / messages, client inside the window (copies out of received frames), server over its life (0 per sent message when encoded in place; 1 per encoder fallback or frame that waited for region space)",
          }
        : {
            latency: "per call, performance.now() before the call to its settled promise in the client; ns in an HDR histogram (3 digits); calls started inside the window",
            throughput: "calls completed inside the measured window / window length",
            channelEcho: "the echo benchmark's driver (bench/lib/run.js), same pinning, payload = frame body bytes",
          }),
      foreignCpu: "busy ticks of /proc/stat minus the ticks of our client, server and parent (/proc/PID/stat), % of all CPUs, over the measured window",
    },
    drivers: options.drivers,
    summary: rows,
    targets,
    runs,
  };
  await writeFile(jsonPath, `${JSON.stringify(result, null, 1)}\n`);
  await writeFile(svgPath, stream ? streamPlot(rows, options, machine, pinning, startedAt) : plot(runs, options, machine, pinning, startedAt));

  const foreign = runs.filter((r) => r.ok).map((r) => r.foreignPct);
  console.log(
    stream
      ? `## Connect benchmark: server stream of ${payloads.map(sizeLabel).join(" and ")} messages, one stream on one connection\n`
      : `## Connect benchmark: ${payloads.map((p) => `${p} B`).join(", ")} unary round trips\n`,
  );
  console.log(
    `${machine.cpuModel} × ${machine.cores}, Linux ${machine.kernelRelease}, Node ${machine.node}; ` +
      `${pinning.pinned ? `client CPU ${pinning.client}, server CPU ${pinning.server} (taskset)` : `unpinned: ${pinning.reason}`}; ` +
      `${options.reps} interleaved repeats × ${options.measureMs} ms (+${options.warmupMs} ms warm-up); ` +
      `foreign CPU load median ${foreign.length ? median(foreign).toFixed(0) : "–"} % (max ${foreign.length ? Math.max(...foreign).toFixed(0) : "–"} %).\n`,
  );
  console.log(`Cells: median (min–max) over repeats; ratios paired per interleaved round; clean = foreign CPU ≤ ${CLEAN_FOREIGN_PCT} % (stats use clean runs when ≥ 2).\n`);
  console.log(stream ? rpcStreamTable(rows, "connect-node") : rpcResultsTable(rows, "connect-node"));
  console.log(`\n${rpcTargetsTable(targets)}`);
  console.log(`\nJSON: ${jsonPath}\nplot: ${svgPath}`);
  const failed = rows.filter((r) => r.ok === 0);
  if (failed.length) {
    console.error(`\n${failed.length} configuration(s) produced no result:\n${failed.map((r) => `  ${r.driver} ${stream ? sizeLabel(r.payloadBytes) : `×${r.inflight}`}: ${r.errors[0]}`).join("\n")}`);
    return 1;
  }
  return 0;
}

runMain(main, "connect benchmark");
