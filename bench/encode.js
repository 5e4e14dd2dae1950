// The in-place encoder against toBinary (issue 14): CPU per message and JS-heap bytes
// allocated per message, for the benchmark's 64 B message (bench.v1.EchoMessage: a 64 B
// `bytes` payload and an int64 sequence), the same with a 64 KiB payload, a message of
// many small fields (market.v1.Quote) and a nested one with a map, a oneof and repeated
// bytes (market.v1.Order). Each message goes into one preallocated Uint8Array, as a send
// path writes into a lease:
//   toBinary + copy:        bytes = toBinary(schema, message); target.set(bytes, 0)
//   encodedSize+encodeInto: encodedSize(schema, message); encodeInto(schema, message, target, 0)
//   encoder.size+write:     the same through encoderFor(schema), held by the caller
//
// CPU: process.cpuUsage() (user + system) around a timed batch, divided by the batch's
// messages; rounds interleave the methods (order rotated) and the table shows the median
// (min–max) over rounds. Heap: a child process with --expose-gc and a 64 MB semi-space
// (so no scavenge runs inside a batch; checked with a gc PerformanceObserver) takes V8's
// new-space use and process.memoryUsage().arrayBuffers after gc(), runs a batch, and
// divides the growth by the batch's messages, less that of a batch doing nothing.
// ArrayBuffer backing stores are off the JS heap: they have their own column.
//
// Strings (how utf8.ts writes them): per string, a JavaScript loop (writeUtf8Loop),
// TextEncoder.encodeInto into a subarray, and Buffer.prototype.utf8Write on the
// Uint8Array, for ASCII and non-ASCII strings of several lengths; CPU ns per string.
//   node bench/encode.js [--rounds N] [--batch-ms MS] [--out DIR]     (after npm run build:ts)
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PerformanceObserver } from "node:perf_hooks";
import v8 from "node:v8";

import { create, toBinary } from "@bufbuild/protobuf";

import { encodedSize, encodeInto, encoderFor } from "../dist/protobuf/index.js";
import { writeUtf8Loop } from "../dist/protobuf/utf8.js";
import { EchoMessageSchema } from "./gen/bench/v1/bench_pb.js";
import { OrderSchema, QuoteSchema, Side } from "../examples/gen/market/v1/market_pb.js";
import { machineInfo } from "./lib/machine.js";
import { barPlotSvg } from "./lib/plot-svg.js";

const { values: options } = parseArgs({
  options: {
    rounds: { type: "string", default: "7" },
    "batch-ms": { type: "string", default: "150" },
    out: { type: "string", default: fileURLToPath(new URL("results", import.meta.url)) },
    "alloc-child": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (options.help) {
  console.log("usage: node bench/encode.js [--rounds N (7)] [--batch-ms MS (150)] [--out DIR (bench/results)]");
  process.exit(0);
}

/** CPU-time target of issue 14 for the 64 B message: at most this share of toBinary + copy. */
const TARGET_RATIO = 0.25;

const quote = create(QuoteSchema, {
  symbol: "ACME",
  bid: 101.25,
  ask: 101.5,
  bidSize: 300n,
  askSize: 500n,
  timeNs: 1_733_500_000_123_456_789n,
  sequence: 42n,
  venuePayload: new Uint8Array(16).fill(7),
});

const WORKLOADS = [
  {
    id: "echo-64",
    label: "64 B: EchoMessage (64 B bytes + int64)",
    schema: EchoMessageSchema,
    message: create(EchoMessageSchema, { payload: new Uint8Array(64).fill(0x62), seq: 1_234_567n }),
    allocBatch: 50_000,
  },
  {
    id: "echo-64k",
    label: "64 KiB: EchoMessage (64 KiB bytes + int64)",
    schema: EchoMessageSchema,
    message: create(EchoMessageSchema, { payload: new Uint8Array(65_536).fill(0x62), seq: 1_234_567n }),
    allocBatch: 200,
  },
  {
    id: "quote",
    label: "small fields: market.v1.Quote (string, 2 double, 4 int64, 16 B bytes)",
    schema: QuoteSchema,
    message: quote,
    allocBatch: 50_000,
  },
  {
    id: "order",
    label: "nested: market.v1.Order (Quote inside, 2-entry map, oneof, 3 repeated bytes)",
    schema: OrderSchema,
    message: create(OrderSchema, {
      clientOrderId: "c-000123",
      symbol: "ACME",
      side: Side.BUY,
      price: 101.3,
      quantity: 100n,
      signature: new Uint8Array(32).fill(1),
      tags: { desk: new Uint8Array([1, 2]), strategy: new Uint8Array([3]) },
      timeInForce: { case: "goodTillNs", value: 1_733_500_000_000_000_000n },
      legs: [new Uint8Array(8), new Uint8Array(8), new Uint8Array(8)],
      reference: quote,
    }),
    allocBatch: 20_000,
  },
];

const METHODS = [
  {
    id: "toBinary+copy",
    run(schema, message, target) {
      const bytes = toBinary(schema, message);
      target.set(bytes, 0);
      return bytes.length;
    },
  },
  {
    id: "encodedSize+encodeInto",
    run(schema, message, target) {
      encodedSize(schema, message);
      return encodeInto(schema, message, target, 0);
    },
  },
  {
    id: "encoder.size+write",
    run(schema, message, target, encoder) {
      encoder.size(message);
      return encoder.write(message, target, 0);
    },
  },
];

function setup(workload) {
  const size = toBinary(workload.schema, workload.message).length;
  return { target: new Uint8Array(size + 16), encoder: encoderFor(workload.schema), size };
}

/** Runs a batch of n encodes; returns CPU µs (user + system) and wall ns. */
function batch(method, workload, ctx, n) {
  const { schema, message } = workload;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let check = 0;
  for (let i = 0; i < n; i++) check += method.run(schema, message, ctx.target, ctx.encoder);
  const wallNs = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  if (check !== ctx.size * n) throw new Error(`${method.id}: wrote ${check / n} bytes per message, expected ${ctx.size}`);
  return { cpuUs: cpu.user + cpu.system, wallNs };
}

/** Messages per batch so that a batch takes about batchMs. */
function calibrate(method, workload, ctx, batchMs) {
  let n = 100;
  for (;;) {
    const { wallNs } = batch(method, workload, ctx, n);
    if (wallNs > 20e6 || n > 5e7) return Math.max(100, Math.round((n * batchMs * 1e6) / wallNs));
    n *= 4;
  }
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], n: sorted.length };
}

const fmt = (v, digits = 0) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(digits));
const cell = (s, digits = 0) => `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;

/** The allocation phase, in a child with a big young generation (see the top comment). */
function allocChild() {
  const gc = globalThis.gc;
  let gcs = 0;
  const observer = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  observer.observe({ entryTypes: ["gc"] });
  const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_used_size;
  const results = [];
  let baseline = [];
  for (const workload of WORKLOADS) {
    const ctx = setup(workload);
    // The measuring itself (the batch loop, cpuUsage, memoryUsage) allocates a little: a
    // batch that encodes nothing gives that, subtracted from every method's growth.
    const nothing = { id: "nothing", run: () => ctx.size };
    for (const method of [nothing, ...METHODS]) {
      batch(method, workload, ctx, Math.min(workload.allocBatch, 20_000));
      const samples = [];
      for (let r = 0; r < 3; r++) {
        gc();
        gc();
        const heap0 = newSpace();
        const ab0 = process.memoryUsage().arrayBuffers;
        batch(method, workload, ctx, workload.allocBatch);
        const heap1 = newSpace();
        const ab1 = process.memoryUsage().arrayBuffers;
        samples.push({ heap: (heap1 - heap0) / workload.allocBatch, arrayBuffers: (ab1 - ab0) / workload.allocBatch });
      }
      if (method === nothing) {
        baseline = samples;
        continue;
      }
      samples.forEach((sample, i) => {
        sample.heap -= baseline[i].heap;
        sample.arrayBuffers -= baseline[i].arrayBuffers;
      });
      results.push({ workload: workload.id, method: method.id, samples });
    }
  }
  // gc entries arrive asynchronously: count them once they have.
  setTimeout(() => {
    observer.disconnect();
    process.stdout.write(JSON.stringify({ results, gcs }));
  }, 100);
}

function measureAllocations() {
  const child = spawnSync(
    process.execPath,
    ["--expose-gc", "--min-semi-space-size=64", "--max-semi-space-size=64", fileURLToPath(import.meta.url), "--alloc-child"],
    { encoding: "utf8", maxBuffer: 1 << 24 },
  );
  if (child.status !== 0) throw new Error(`allocation child failed: ${child.stderr}`);
  return JSON.parse(child.stdout);
}

const STRINGS = [
  ["ascii-8", "abcdefgh"],
  ["ascii-32", "x".repeat(32)],
  ["ascii-64", "y".repeat(64)],
  ["ascii-256", "z".repeat(256)],
  ["ascii-4096", "w".repeat(4096)],
  ["utf8-8", "é漢é漢é漢é漢"],
  ["utf8-16", "é漢".repeat(8)],
  ["utf8-32", "é漢".repeat(16)],
  ["utf8-256", "é漢".repeat(128)],
];

const textEncoder = new TextEncoder();
const utf8Write = Buffer.prototype.utf8Write;
const STRING_WRITERS = [
  { id: "JS loop", run: (text, target) => writeUtf8Loop(target, 1, text) },
  { id: "TextEncoder.encodeInto", run: (text, target) => 1 + textEncoder.encodeInto(text, target.subarray(1)).written },
  { id: "Buffer utf8Write", run: (text, target) => 1 + utf8Write.call(target, text, 1, target.length - 1) },
];

/** CPU ns per string written, median (min–max) over rounds, per writer and string. */
function measureStrings(rounds, batchMs) {
  const target = new Uint8Array(16_384);
  const rows = [];
  for (const [id, text] of STRINGS) {
    const expected = 1 + Buffer.byteLength(text);
    const perWriter = STRING_WRITERS.map((writer) => {
      let n = 1000;
      const timeBatch = (count) => {
        const cpu0 = process.cpuUsage();
        let check = 0;
        for (let i = 0; i < count; i++) check += writer.run(text, target);
        const cpu = process.cpuUsage(cpu0);
        if (check !== expected * count) throw new Error(`${writer.id} wrote ${check / count - 1} bytes of ${id}`);
        return cpu.user + cpu.system;
      };
      while (timeBatch(n) < 20_000) n *= 4;
      const count = Math.round((n * batchMs * 1000) / Math.max(1, timeBatch(n)));
      const samples = [];
      for (let r = 0; r < rounds; r++) samples.push((timeBatch(count) * 1000) / count);
      return { writer: writer.id, ns: stats(samples) };
    });
    rows.push({ string: id, units: text.length, writers: perWriter });
  }
  return rows;
}

function main() {
  const rounds = Number(options.rounds);
  const batchMs = Number(options["batch-ms"]);
  const startedAt = new Date().toISOString();
  const contexts = WORKLOADS.map(setup);
  const batches = WORKLOADS.map((w, i) => METHODS.map((m) => calibrate(m, w, contexts[i], batchMs)));
  const runs = [];
  for (let round = 0; round < rounds; round++) {
    WORKLOADS.forEach((workload, wi) => {
      for (let k = 0; k < METHODS.length; k++) {
        const mi = (k + round) % METHODS.length;
        const n = batches[wi][mi];
        const { cpuUs, wallNs } = batch(METHODS[mi], workload, contexts[wi], n);
        runs.push({ round, workload: workload.id, method: METHODS[mi].id, messages: n, cpuNsPerMessage: (cpuUs * 1000) / n, wallNsPerMessage: wallNs / n });
      }
    });
    process.stderr.write(`round ${round + 1}/${rounds}\r`);
  }
  process.stderr.write("\n");
  const alloc = measureAllocations();
  const strings = measureStrings(rounds, Math.max(20, batchMs / 3));

  const rows = [];
  for (const workload of WORKLOADS) {
    const reference = runs.filter((r) => r.workload === workload.id && r.method === METHODS[0].id);
    for (const method of METHODS) {
      const mine = runs.filter((r) => r.workload === workload.id && r.method === method.id);
      // Paired per round: this method's CPU over toBinary + copy's in the same round.
      const ratios = mine.map((r) => r.cpuNsPerMessage / reference.find((x) => x.round === r.round).cpuNsPerMessage);
      const a = alloc.results.find((x) => x.workload === workload.id && x.method === method.id);
      rows.push({
        workload: workload.id,
        label: workload.label,
        bytes: contexts[WORKLOADS.indexOf(workload)].size,
        method: method.id,
        cpuNs: stats(mine.map((r) => r.cpuNsPerMessage)),
        wallNs: stats(mine.map((r) => r.wallNsPerMessage)),
        ratio: stats(ratios),
        heapBytes: stats(a.samples.map((s) => s.heap)),
        arrayBufferBytes: stats(a.samples.map((s) => s.arrayBuffers)),
      });
    }
  }

  const lines = [
    "| message | bytes | method | CPU ns/msg | × toBinary+copy (paired) | wall ns/msg | JS heap B/msg | ArrayBuffer B/msg |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.workload} | ${r.bytes} | ${r.method} | ${cell(r.cpuNs)} | ${cell(r.ratio, 3)} | ${cell(r.wallNs)} | ${fmt(r.heapBytes.median, 1)} | ${fmt(r.arrayBufferBytes.median, 1)} |`,
    ),
  ];
  const echo = rows.find((r) => r.workload === "echo-64" && r.method === "encodedSize+encodeInto");
  const targets = [
    { label: "64 B message: CPU × toBinary+copy", goal: `<= ${TARGET_RATIO}`, measured: echo.ratio.median, met: echo.ratio.median <= TARGET_RATIO },
    { label: "64 B message: JS heap bytes per message", goal: "0", measured: echo.heapBytes.median, met: echo.heapBytes.median < 1 },
  ];
  lines.push("", "| target (issue 14) | goal | measured median | met |", "|---|---|---|---|");
  for (const t of targets) lines.push(`| ${t.label} | ${t.goal} | ${fmt(t.measured, 3)} | ${t.met ? "yes" : "**no**"} |`);
  // The child's own gc() calls are counted too (6 per method and message): more than that
  // means collections inside batches (external-memory pressure from toBinary's 64 KiB
  // buffers), which makes its ArrayBuffer column an undercount.
  lines.push("", `(GC entries in the allocation child: ${alloc.gcs}, of which its own gc() calls: ${6 * (METHODS.length + 1) * WORKLOADS.length})`);
  lines.push("", `| string (UTF-16 units) | ${STRING_WRITERS.map((w) => `${w.id} ns`).join(" | ")} |`, `|---|${STRING_WRITERS.map(() => "---").join("|")}|`);
  for (const row of strings) lines.push(`| ${row.string} (${row.units}) | ${row.writers.map((w) => cell(w.ns)).join(" | ")} |`);
  console.log(lines.join("\n"));

  mkdirSync(options.out, { recursive: true });
  const stamp = startedAt.replace(/[:.]/g, "-");
  const machine = machineInfo();
  const json = `${options.out}/encode-${stamp}.json`;
  writeFileSync(
    json,
    JSON.stringify(
      {
        startedAt,
        machine,
        method: {
          cpu: "process.cpuUsage() user+system around batches of ~batchMs, divided by messages; rounds interleaved, method order rotated; ratios paired per round",
          heap: "child with --expose-gc --min/max-semi-space-size=64: V8 new_space used growth over a batch after gc(), per message; arrayBuffers from process.memoryUsage()",
          rounds,
          batchMs,
        },
        rows,
        targets,
        strings,
        allocGcs: alloc.gcs,
        runs,
      },
      null,
      2,
    ),
  );
  const svg = json.replace(/\.json$/, ".svg");
  writeFileSync(
    svg,
    barPlotSvg({
      title: "connect-rdma: protobuf encoding into a preallocated buffer (CPU per message)",
      panels: WORKLOADS.map((w) => ({
        title: `${w.label}, ${contexts[WORKLOADS.indexOf(w)].size} B`,
        unit: "CPU ns per message",
        bars: rows
          .filter((r) => r.workload === w.id)
          .map((r, i) => ({ label: r.method, color: i === 0 ? "#888888" : "#1f77b4", dashed: i === 0, ...r.cpuNs })),
      })),
      footer: [`${startedAt} · ${machine.cpuModel} × ${machine.cores} · Node ${machine.node} · median (min–max) over ${rounds} rounds. Pale, dashed: protobuf-es toBinary.`],
    }),
  );
  console.log(`\n${json}\n${svg}`);
}

if (options["alloc-child"]) allocChild();
else main();
