// CPU per unary call of the Connect layers alone, A/B between builds (a development tool
// for issue 14; not part of the benchmark tables). Client and server run in one child
// process over a real channel (memory:// by default: no system calls, so the figure is
// the JS of both sides plus the memory channel), N calls in flight; per round, after a
// warm-up, CPU (user + system) of the measured window / calls. With several --roots the
// rounds alternate between the builds (order rotated), each round a fresh child, so a
// noisy machine disturbs both alike; the table gives the median (min–max) per build and
// the paired ratio to the first build per round, and the lowest quartile (the rounds
// least disturbed). Less sensitive to load than the
// two-process benchmark, and no taskset needed.
//   node bench/unary-inproc.js [--roots DIR,DIR...] [--engine memory|uring] [--inflight N]
//                              [--rounds N] [--warmup-ms MS] [--measure-ms MS]
// A root is a checkout with dist/ built (default: this one); e.g. --roots /work/main,.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

import { spread } from "./lib/runs.js";

const here = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    roots: { type: "string", default: here },
    engine: { type: "string", default: "memory" },
    inflight: { type: "string", default: "64" },
    rounds: { type: "string", default: "3" },
    "warmup-ms": { type: "string", default: "1000" },
    "measure-ms": { type: "string", default: "2000" },
    child: { type: "string" },
  },
});

if (values.child !== undefined) {
  // The build under test: its dist/, and connect-es and the generated code from its own
  // node_modules, so that one copy of each library runs (two would not share shapes).
  const fromRoot = (path) => import(pathToFileURL(resolve(values.child, path)).href);
  const { createServer, createUringTransport } = await fromRoot("dist/index.js");
  const { createClient } = await fromRoot("node_modules/@connectrpc/connect/dist/esm/index.js");
  const { BenchService } = await fromRoot("bench/gen/bench/v1/bench_pb.js");
  const engine = values.engine;
  const engineOption = engine === "memory" ? {} : { engine };
  const server = createServer({ routes: (router) => router.service(BenchService, { echo: (req) => req }), ...engineOption });
  const bound = await server.listen(engine === "memory" ? `memory://unary-inproc-${process.pid}` : "tcp://127.0.0.1:0");
  const transport = createUringTransport({ url: bound, ...engineOption });
  const client = createClient(BenchService, transport);
  const payload = new Uint8Array(64).fill(0x61);
  let calls = 0;
  const run = async (ms) => {
    const end = performance.now() + ms;
    const lane = async () => {
      while (performance.now() < end) {
        const reply = await client.echo({ payload, seq: 7n });
        if (reply.seq !== 7n) throw new Error("bad echo");
        calls++;
      }
    };
    await Promise.all(Array.from({ length: Number(values.inflight) }, lane));
  };
  await run(Number(values["warmup-ms"]));
  calls = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  await run(Number(values["measure-ms"]));
  const used = process.cpuUsage(cpu);
  const ms = performance.now() - start;
  await transport.close();
  await server.close(0);
  console.log(JSON.stringify({ calls, ms, cpuUsPerCall: (used.user + used.system) / calls, callsPerSec: calls / (ms / 1000) }));
} else {
  const roots = values.roots.split(",").map((r) => resolve(r));
  const rounds = Number(values.rounds);
  const results = roots.map(() => []);
  const self = fileURLToPath(import.meta.url);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < roots.length; k++) {
      const i = (k + round) % roots.length;
      const args = [self, "--child", roots[i], "--engine", values.engine, "--inflight", values.inflight];
      args.push("--warmup-ms", values["warmup-ms"], "--measure-ms", values["measure-ms"]);
      const child = spawnSync(process.execPath, args, { encoding: "utf8" });
      if (child.status !== 0) {
        process.stderr.write(child.stderr);
        throw new Error(`the child for ${roots[i]} exited with ${child.status}`);
      }
      results[i].push(JSON.parse(child.stdout.trim().split("\n").at(-1)));
    }
  }
  const cell = (xs, digits) => {
    const s = spread(xs);
    return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
  };
  console.log(`engine ${values.engine}, ${values.inflight} unary calls of a 64 B echo in flight, client + server in one process, ${rounds} rounds`);
  // The lowest quartile as well: on a shared machine the rounds that ran undisturbed are the low ones.
  const lowQuartile = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 4)];
  console.log("| build | CPU µs per call (client + server) | lowest quartile | calls/s | CPU × first build (paired) |");
  console.log("|---|---|---|---|---|");
  roots.forEach((root, i) => {
    const cpu = results[i].map((r) => r.cpuUsPerCall);
    const ratios = results[i].map((r, n) => r.cpuUsPerCall / results[0][n].cpuUsPerCall);
    console.log(`| ${root} | ${cell(cpu, 2)} | ${lowQuartile(cpu).toFixed(2)} | ${cell(results[i].map((r) => r.callsPerSec / 1000), 1)}k | ${cell(ratios, 3)} |`);
  });
}
