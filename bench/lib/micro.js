// Microbenchmark machinery shared by bench/encode.js and bench/decode.js: CPU (user +
// system) and wall time of a batch of operations, batch sizes calibrated to a duration,
// median (min–max) over rounds, and JS-heap / ArrayBuffer growth per operation, measured
// in a child process with --expose-gc and a 64 MB semi-space (so no scavenge runs inside
// a batch) after gc(), less that of a batch doing nothing.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import v8 from "node:v8";

/** Runs `run` n times; CPU µs, wall ns and the sum of what `run` returned (a check). */
export function timeBatch(run, n) {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let check = 0;
  for (let i = 0; i < n; i++) check += run();
  const wallNs = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: cpu.user + cpu.system, wallNs, check };
}

/** Operations per batch so that a batch takes about batchMs of wall time. */
export function calibrate(run, batchMs) {
  let n = 100;
  for (;;) {
    const { wallNs } = timeBatch(run, n);
    if (wallNs > 20e6 || n > 5e7) return Math.max(100, Math.round((n * batchMs * 1e6) / wallNs));
    n *= 4;
  }
}

/** Median, min, max and count. */
export function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], n: sorted.length };
}

const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_used_size;

/**
 * In the allocation child: JS-heap and ArrayBuffer bytes per operation of `run` over
 * batches of n (3 samples), each less the growth of `nothing` (the measuring itself).
 */
export function growthPerOp(run, nothing, n) {
  const gc = globalThis.gc;
  const sample = (fn) => {
    timeBatch(fn, Math.min(n, 20_000));
    const samples = [];
    for (let r = 0; r < 3; r++) {
      gc();
      gc();
      const heap0 = newSpace();
      const ab0 = process.memoryUsage().arrayBuffers;
      timeBatch(fn, n);
      samples.push({ heap: (newSpace() - heap0) / n, arrayBuffers: (process.memoryUsage().arrayBuffers - ab0) / n });
    }
    return samples;
  };
  const baseline = sample(nothing);
  return sample(run).map((s, i) => ({ heap: s.heap - baseline[i].heap, arrayBuffers: s.arrayBuffers - baseline[i].arrayBuffers }));
}

/** Runs `script` with `args` as the allocation child; returns what it printed, parsed as JSON. */
export function runAllocChild(script, args) {
  const child = spawnSync(process.execPath, ["--expose-gc", "--min-semi-space-size=64", "--max-semi-space-size=64", script, ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  if (child.status !== 0) throw new Error(`allocation child failed: ${child.stderr}`);
  return JSON.parse(child.stdout);
}

/**
 * Rounds of batches, interleaved: in each round every workload runs every method once, the
 * method order rotated by round. `run(workloadIndex, methodIndex)` is the operation; batch
 * sizes come from `batches[workloadIndex][methodIndex]`; `verify(wi, mi, check, n)`, if
 * given, sees the sum of what the n operations returned. Returns one entry per batch.
 */
export function interleavedRounds(rounds, workloads, methods, batches, run, verify) {
  const runs = [];
  for (let round = 0; round < rounds; round++) {
    workloads.forEach((workload, wi) => {
      for (let k = 0; k < methods.length; k++) {
        const mi = (k + round) % methods.length;
        const n = batches[wi][mi];
        const { cpuUs, wallNs, check } = timeBatch(run(wi, mi), n);
        verify?.(wi, mi, check, n);
        runs.push({ round, workload: workload.id, method: methods[mi].id, messages: n, cpuNsPerMessage: (cpuUs * 1000) / n, wallNsPerMessage: wallNs / n });
      }
    });
    process.stderr.write(`round ${round + 1}/${rounds}\r`);
  }
  process.stderr.write("\n");
  return runs;
}

/**
 * One row per workload and method: CPU and wall ns per message, the CPU ratio to the first
 * method paired by round, and the allocation child's heap and ArrayBuffer bytes per message.
 */
export function summarizeRuns(workloads, methods, runs, allocResults, bytesOf) {
  const rows = [];
  workloads.forEach((workload, wi) => {
    const reference = runs.filter((r) => r.workload === workload.id && r.method === methods[0].id);
    for (const method of methods) {
      const mine = runs.filter((r) => r.workload === workload.id && r.method === method.id);
      const ratios = mine.map((r) => r.cpuNsPerMessage / reference.find((x) => x.round === r.round).cpuNsPerMessage);
      const a = allocResults.find((x) => x.workload === workload.id && x.method === method.id);
      rows.push({
        workload: workload.id,
        label: workload.label,
        bytes: bytesOf(wi),
        method: method.id,
        cpuNs: stats(mine.map((r) => r.cpuNsPerMessage)),
        wallNs: stats(mine.map((r) => r.wallNsPerMessage)),
        ratio: stats(ratios),
        heapBytes: stats(a.samples.map((s) => s.heap)),
        arrayBufferBytes: stats(a.samples.map((s) => s.arrayBuffers)),
      });
    }
  });
  return rows;
}

/** The microbenchmarks' command line: --rounds, --batch-ms, --out, and --alloc-child (internal). */
export function microOptions(script) {
  const { values } = parseArgs({
    options: {
      rounds: { type: "string", default: "7" },
      "batch-ms": { type: "string", default: "150" },
      out: { type: "string", default: fileURLToPath(new URL("../results", import.meta.url)) },
      "alloc-child": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(`usage: node bench/${script} [--rounds N (7)] [--batch-ms MS (150)] [--out DIR (bench/results)]`);
    process.exit(0);
  }
  return values;
}
