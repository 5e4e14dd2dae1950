// The plan-based decoder against fromBinary (issue 14): CPU per message and JS-heap bytes
// allocated per message, decoding the benchmark's 64 B message (bench.v1.EchoMessage: a
// 64 B `bytes` payload and an int64 sequence), a message of many small fields
// (market.v1.Quote) and a larger mixed one (market.v1.Order: strings, a nested Quote, a
// map, a oneof, repeated bytes, unknown fields), as the receive path decodes a frame:
//   fromBinary + copy pass: fromBinary(schema, bytes), then src/connect/decode.ts's copy
//                           pass (what "copy" cost before, and still costs for fallbacks)
//   fromBinary:             the views left in place (what "alias" cost before)
//   decodeFrom copy:        src/protobuf's decoder, copies made in the same pass
//   decodeFrom alias:       the same, views of the input
// CPU and heap measured as bench/encode.js does (bench/lib/micro.js): rounds interleave the
// methods (order rotated), the table shows the median (min–max) over rounds, the ratio is
// paired per round against fromBinary + copy pass.
//   node bench/decode.js [--rounds N] [--batch-ms MS] [--out DIR]     (after npm run build:ts)
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { fromBinary, toBinary } from "@bufbuild/protobuf";

import { decodeFrom } from "../dist/protobuf/index.js";
import { copyViews } from "../dist/connect/decode.js";
import { EchoMessageSchema, OrderSchema, QuoteSchema, sampleEcho, sampleOrder, sampleQuote } from "./lib/samples.js";
import { cell, num } from "./lib/format.js";
import { machineInfo } from "./lib/machine.js";
import { calibrate, growthPerOp, interleavedRounds, microOptions, runAllocChild, summarizeRuns } from "./lib/micro.js";

const options = microOptions("decode.js");

const order = sampleOrder();
order.$unknown = [{ no: 900, wireType: 2, data: new Uint8Array([4, 1, 2, 3, 4]) }];

const WORKLOADS = [
  { id: "echo-64", label: "64 B: EchoMessage (64 B bytes + int64)", schema: EchoMessageSchema, message: sampleEcho(64), allocBatch: 10_000 },
  { id: "quote", label: "small fields: market.v1.Quote (string, 2 double, 4 int64, 16 B bytes)", schema: QuoteSchema, message: sampleQuote(), allocBatch: 10_000 },
  { id: "order", label: "mixed: market.v1.Order (strings, Quote inside, 2-entry map, oneof, 3 repeated bytes, an unknown field)", schema: OrderSchema, message: order, allocBatch: 5_000 },
];

const counters = { copies: 0, copiedBytes: 0, framesHeld: 0 };
const METHODS = [
  {
    id: "fromBinary+copy pass",
    run(schema, bytes) {
      const m = fromBinary(schema, bytes);
      copyViews(schema, m, counters);
      return m;
    },
  },
  { id: "fromBinary", run: (schema, bytes) => fromBinary(schema, bytes) },
  { id: "decodeFrom copy", run: (schema, bytes) => decodeFrom(schema, bytes, "copy", { counts: counters }) },
  { id: "decodeFrom alias", run: (schema, bytes) => decodeFrom(schema, bytes, "alias") },
];

/** Each workload's bytes; every method must give back a message that encodes to them. */
function setup(workload) {
  const bytes = toBinary(workload.schema, workload.message);
  for (const method of METHODS) {
    const again = toBinary(workload.schema, method.run(workload.schema, bytes));
    if (Buffer.compare(again, bytes) !== 0) throw new Error(`${method.id} decoded ${workload.id} wrong`);
  }
  return bytes;
}

const runner = (method, workload, bytes) => () => (method.run(workload.schema, bytes) === undefined ? 0 : 1);

function allocChild() {
  const results = [];
  for (const workload of WORKLOADS) {
    const bytes = setup(workload);
    for (const method of METHODS) {
      const samples = growthPerOp(runner(method, workload, bytes), () => 1, workload.allocBatch);
      results.push({ workload: workload.id, method: method.id, samples });
    }
  }
  process.stdout.write(JSON.stringify({ results }));
}

function main() {
  const rounds = Number(options.rounds);
  const batchMs = Number(options["batch-ms"]);
  const startedAt = new Date().toISOString();
  const inputs = WORKLOADS.map(setup);
  const batches = WORKLOADS.map((w, i) => METHODS.map((m) => calibrate(runner(m, w, inputs[i]), batchMs)));
  const runs = interleavedRounds(rounds, WORKLOADS, METHODS, batches, (wi, mi) => runner(METHODS[mi], WORKLOADS[wi], inputs[wi]));
  const alloc = runAllocChild(fileURLToPath(import.meta.url), ["--alloc-child"]);

  const rows = summarizeRuns(WORKLOADS, METHODS, runs, alloc.results, (wi) => inputs[wi].length);

  const lines = [
    "| message | bytes | method | CPU ns/msg | × fromBinary+copy pass (paired) | wall ns/msg | JS heap B/msg | ArrayBuffer B/msg |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.workload} | ${r.bytes} | ${r.method} | ${cell(r.cpuNs, 0)} | ${cell(r.ratio, 3)} | ${cell(r.wallNs, 0)} | ${num(r.heapBytes.median, 1)} | ${num(r.arrayBufferBytes.median, 1)} |`,
    ),
  ];
  console.log(lines.join("\n"));

  mkdirSync(options.out, { recursive: true });
  const json = `${options.out}/decode-${startedAt.replace(/[:.]/g, "-")}.json`;
  const method = {
    cpu: "process.cpuUsage() user+system around batches of ~batchMs, divided by messages; rounds interleaved, method order rotated; ratios paired per round",
    heap: "child with --expose-gc --min/max-semi-space-size=64: V8 new_space used growth over a batch after gc(), per message, less an empty batch's; arrayBuffers from process.memoryUsage()",
    rounds,
    batchMs,
  };
  writeFileSync(json, JSON.stringify({ startedAt, machine: machineInfo(), method, rows, runs }, null, 2));
  console.log(`\n${json}`);
}

if (options["alloc-child"]) allocChild();
else main();
