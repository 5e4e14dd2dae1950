// Allocations per unary call (a development tool for the Connect layer's hot path; not
// part of the benchmark tables). Server and client run in this one process over a real
// channel (io_uring TCP by default), 1 call in flight; after a warm-up, V8's sampling
// heap profiler runs with a 1-byte mean interval (so every allocation is a sample, also
// those collected by later GCs) over N calls. Prints allocations and bytes per call,
// grouped by the allocating function, and by the first frame of ours (src/ or dist/)
// on the stack, which shows which of our lines caused library allocations.
//   node bench/alloc-profile.js [--engine uring|net|memory] [--calls N] [--top K] [--json FILE]
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { parseArgs } from "node:util";

import { createClient } from "@connectrpc/connect";
import { createServer, createUringTransport } from "connect-rdma";

import { BenchService } from "./gen/bench/v1/bench_pb.js";

const { values } = parseArgs({
  options: {
    engine: { type: "string", default: "uring" },
    calls: { type: "string", default: "2000" },
    top: { type: "string", default: "25" },
    json: { type: "string" },
  },
});
const calls = Number(values.calls);
const engine = values.engine;
const url = engine === "memory" ? `memory://alloc-${process.pid}` : "tcp://127.0.0.1:0";

const server = createServer({ routes: (router) => router.service(BenchService, { echo: (req) => req }), ...(engine !== "memory" ? { engine } : {}) });
const bound = await server.listen(url);
const transport = createUringTransport({ url: bound, ...(engine !== "memory" ? { engine } : {}) });
const client = createClient(BenchService, transport);
const payload = new Uint8Array(64).fill(0x61);
const run = async (n) => {
  for (let i = 0; i < n; i++) await client.echo({ payload, seq: BigInt(i) });
};
await run(5000); // warm-up: connection, JIT

const session = new Session();
session.connect();
await session.post("HeapProfiler.enable");
await session.post("HeapProfiler.startSampling", {
  samplingInterval: 1,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
await run(calls);
const { profile } = await session.post("HeapProfiler.stopSampling");
session.disconnect();
await transport.close();
await server.close(0);

// Index the call tree: node id -> { frame, parent }.
const nodes = new Map();
(function walk(node, parent) {
  nodes.set(node.id, { frame: node.callFrame, parent });
  for (const child of node.children) walk(child, node.id);
})(profile.head, undefined);

const short = (u) => u.replace(/^file:\/\//, "").replace(/^.*\/node_modules\//, "").replace(/^.*\/(src|dist|bench)\//, "$1/");
const frameName = (f) => `${f.functionName || "(anonymous)"} ${short(f.url)}:${f.lineNumber + 1}`;
const ours = (f) => /\/(src|dist)\//.test(f.url) && !f.url.includes("node_modules");

const bySelf = new Map();
const byOurs = new Map();
let count = 0;
let bytes = 0;
const add = (map, key, size) => {
  const e = map.get(key) ?? { count: 0, bytes: 0 };
  e.count++;
  e.bytes += size;
  map.set(key, e);
};
for (const sample of profile.samples) {
  count++;
  bytes += sample.size;
  const node = nodes.get(sample.nodeId);
  add(bySelf, node ? frameName(node.frame) : "(unknown)", sample.size);
  let id = sample.nodeId;
  let first = "(none of ours on the stack)";
  while (id !== undefined) {
    const n = nodes.get(id);
    if (n && ours(n.frame)) {
      first = frameName(n.frame);
      break;
    }
    id = n?.parent;
  }
  add(byOurs, first, sample.size);
}

const table = (title, map) => {
  const rows = [...map].sort((a, b) => b[1].count - a[1].count).slice(0, Number(values.top));
  console.log(`\n${title}\n| allocations/call | bytes/call | where |\n|---|---|---|`);
  for (const [key, e] of rows) console.log(`| ${(e.count / calls).toFixed(2)} | ${(e.bytes / calls).toFixed(0)} | ${key} |`);
};
console.log(`engine ${engine}, ${calls} unary calls of a 64 B echo, client + server in one process`);
console.log(`allocations per call: ${(count / calls).toFixed(1)}, bytes per call: ${(bytes / calls).toFixed(0)}`);
table("By allocating function (self):", bySelf);
table("By the innermost frame of ours on the stack:", byOurs);
if (values.json) await writeFile(values.json, JSON.stringify({ engine, calls, count, bytes, bySelf: [...bySelf], byOurs: [...byOurs] }, null, 1));
