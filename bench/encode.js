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
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PerformanceObserver } from "node:perf_hooks";

import { toBinary } from "@bufbuild/protobuf";

import { encodedSize, encodeInto, encoderFor } from "../dist/protobuf/index.js";
import { writeUtf8Loop } from "../dist/protobuf/utf8.js";
import { EchoMessageSchema, OrderSchema, QuoteSchema, sampleEcho, sampleOrder, sampleQuote } from "./lib/samples.js";
import { machineInfo } from "./lib/machine.js";
import { calibrate, growthPerOp, interleavedRounds, microOptions, runAllocChild, stats, summarizeRuns } from "./lib/micro.js";
import { barPlotSvg } from "./lib/plot-svg.js";

const options = microOptions("encode.js");

/** CPU-time target of issue 14 for the 64 B message: at most this share of toBinary + copy. */
const TARGET_RATIO = 0.25;

const quote = sampleQuote();

const WORKLOADS = [
  {
    id: "echo-64",
    label: "64 B: EchoMessage (64 B bytes + int64)",
    schema: EchoMessageSchema,
    message: sampleEcho(64),
    allocBatch: 50_000,
  },
  {
    id: "echo-64k",
    label: "64 KiB: EchoMessage (64 KiB bytes + int64)",
    schema: EchoMessageSchema,
    message: sampleEcho(65_536),
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
    message: sampleOrder(),
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

const fmt = (v, digits = 0) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(digits));
const cell = (s, digits = 0) => `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;

/** The allocation phase, in a child with a big young generation (see the top comment). */
function allocChild() {
  let gcs = 0;
  const observer = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  observer.observe({ entryTypes: ["gc"] });
  const results = [];
  for (const workload of WORKLOADS) {
    const ctx = setup(workload);
    const { schema, message } = workload;
    for (const method of METHODS) {
      const samples = growthPerOp(() => method.run(schema, message, ctx.target, ctx.encoder), () => ctx.size, workload.allocBatch);
      results.push({ workload: workload.id, method: method.id, samples });
    }
  }
  // gc entries arrive asynchronously: count them once they have.
  setTimeout(() => {
    observer.disconnect();
    process.stdout.write(JSON.stringify({ results, gcs }));
  }, 100);
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
  const run = (wi, mi) => () => METHODS[mi].run(WORKLOADS[wi].schema, WORKLOADS[wi].message, contexts[wi].target, contexts[wi].encoder);
  const batches = WORKLOADS.map((w, wi) => METHODS.map((m, mi) => calibrate(run(wi, mi), batchMs)));
  const runs = interleavedRounds(rounds, WORKLOADS, METHODS, batches, run, (wi, mi, check, n) => {
    if (check !== contexts[wi].size * n) throw new Error(`${METHODS[mi].id}: wrote ${check / n} bytes per message, expected ${contexts[wi].size}`);
  });
  const alloc = runAllocChild(fileURLToPath(import.meta.url), ["--alloc-child"]);
  const strings = measureStrings(rounds, Math.max(20, batchMs / 3));

  const rows = summarizeRuns(WORKLOADS, METHODS, runs, alloc.results, (wi) => contexts[wi].size);

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
  lines.push("", `(GC entries in the allocation child: ${alloc.gcs}, of which its own gc() calls: ${12 * METHODS.length * WORKLOADS.length})`);
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
