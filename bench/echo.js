// The echo benchmark (`npm run bench`, see bench/README.md): every driver of
// lib/drivers.js echoes 64 B frames between a server child and a client child (pinned
// to different CPUs when possible), at each in-flight depth, repeated in interleaved
// rounds. Prints a markdown table to stdout, writes results/echo-<timestamp>.json (runs,
// histograms, machine, foreign load) and results/echo-<timestamp>.svg (latency plot).
import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";

import hdr from "hdr-histogram-js";

import { interleavedPlan, runMain } from "./lib/cli.js";
import { pinningPlan, waitForIdle } from "./lib/cpu.js";
import { DRIVERS } from "./lib/drivers.js";
import { machineInfo } from "./lib/machine.js";
import { parseOptions } from "./lib/options.js";
import { latencyPlotSvg, percentileCurve } from "./lib/plot-svg.js";
import { progress } from "./lib/progress.js";
import { runOnce } from "./lib/run.js";
import { CLEAN_FOREIGN_PCT, checkTargets, selectRuns, spread, summarize } from "./lib/summary.js";
import { resultsTable, targetsTable } from "./lib/table.js";

const COLORS = ["#222222", "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"];
const colorOf = (driverId) => COLORS[DRIVERS.findIndex((d) => d.id === driverId) % COLORS.length];

/** Latency plot over the runs each summary row was computed from. */
function plot(runs, options, machine, pinning, startedAt) {
  const panels = options.workloads.map((workload) => ({
    title: `${workload.payloadBytes} B echo, ${workload.inflight} in flight`,
    series: options.drivers.flatMap((driver) => {
      const { runs: used } = selectRuns(runs.filter((r) => r.driver === driver.id && r.inflight === workload.inflight && r.payloadBytes === workload.payloadBytes));
      if (used.length === 0) return [];
      const merged = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60e9, numberOfSignificantValueDigits: 3 });
      for (const run of used) merged.add(hdr.decodeFromCompressedBase64(run.histogram));
      return [{ label: driver.label, color: colorOf(driver.id), dashed: driver.kind === "net", points: percentileCurve(merged) }];
    }),
  }));
  const legend = options.drivers.map((d) => ({ label: d.label, color: colorOf(d.id), dashed: d.kind === "net" }));
  const where = pinning.pinned ? `client on CPU ${pinning.client}, server on CPU ${pinning.server} (taskset)` : `unpinned (${pinning.reason})`;
  const foreign = spread(runs.filter((r) => r.ok).map((r) => r.foreignPct));
  return latencyPlotSvg({
    title: "connect-rdma echo: round-trip latency by percentile",
    panels,
    legend,
    footer: [
      `${startedAt} · ${machine.cpuModel} × ${machine.cores} · Linux ${machine.kernelRelease} · Node ${machine.node} · ${where} · ` +
        `foreign CPU load median ${foreign.median?.toFixed(0) ?? "–"} % (max ${foreign.max?.toFixed(0) ?? "–"} %)`,
      `Each curve merges the histograms of that driver's runs (clean runs: foreign CPU <= ${CLEAN_FOREIGN_PCT} %, when at least two); ${options.reps} interleaved repeats, ${options.measureMs} ms measured each.`,
    ],
  });
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    console.log(options.help);
    return 0;
  }
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const pinning = pinningPlan(options.pin);
  const todo = interleavedPlan(options);
  const bar = progress(todo.length);
  process.stderr.write(
    `echo benchmark: ${options.drivers.length} drivers × ${options.workloads.length} workloads × ${options.reps} repeats = ${todo.length} runs; ` +
      `${pinning.pinned ? `client on CPU ${pinning.client}, server on CPU ${pinning.server}` : `unpinned (${pinning.reason})`}\n`,
  );

  const runs = [];
  for (const [index, item] of todo.entries()) {
    const name = `${item.driver.id} ×${item.workload.inflight} rep ${item.rep}`;
    bar.update(`${name}: waiting for an idle box`);
    const idle = await waitForIdle({ maxMs: options.idleWaitMs });
    bar.update(`${name}: running`);
    const record = await runOnce({ driver: item.driver, workload: item.workload, runNumber: index, warmupMs: options.warmupMs, measureMs: options.measureMs, pinning });
    record.rep = item.rep;
    record.order = index;
    record.idleBefore = idle;
    runs.push(record);
    bar.step(
      record.ok
        ? `${name}: p50 ${record.p50Us.toFixed(1)} µs, ${Math.round(record.rttPerSec)} RTT/s, foreign ${record.foreignPct.toFixed(0)} %`
        : `${name}: FAILED ${record.error.split("\n")[0]}`,
    );
  }
  bar.end();

  const rows = summarize(runs, options.drivers, options.workloads);
  const targets = options.workloads.some((w) => w.payloadBytes === 64) ? checkTargets(rows, 64) : [];
  const finishedAt = new Date().toISOString();
  const stamp = startedAt.replace(/[:.]/g, "-");
  await mkdir(options.outDir, { recursive: true });
  const jsonPath = join(options.outDir, `echo-${stamp}.json`);
  const svgPath = join(options.outDir, `echo-${stamp}.svg`);
  const result = {
    benchmark: "connect-rdma echo",
    startedAt,
    finishedAt,
    argv: process.argv.slice(2),
    machine: { ...machine, loadAvgAtEnd: loadavg() },
    pinning,
    method: {
      reps: options.reps,
      warmupMs: options.warmupMs,
      measureMs: options.measureMs,
      idleWaitMs: options.idleWaitMs,
      idleThreshold: 0.92,
      cleanForeignPct: CLEAN_FOREIGN_PCT,
      workloads: options.workloads,
      latency: "per request, performance.now() before send to reply in the client; ns in an HDR histogram (3 digits)",
      foreignCpu: "busy ticks of /proc/stat minus the ticks of our client, server and parent (/proc/PID/stat), % of all CPUs, over the measured window",
    },
    drivers: options.drivers,
    summary: rows,
    targets,
    runs,
  };
  await writeFile(jsonPath, `${JSON.stringify(result, null, 1)}\n`);
  await writeFile(svgPath, plot(runs, options, machine, pinning, startedAt));

  const failed = rows.filter((r) => r.ok === 0);
  const foreign = spread(runs.filter((r) => r.ok).map((r) => r.foreignPct));
  console.log(`## Echo benchmark, ${options.workloads.map((w) => `${w.payloadBytes} B`).filter((v, i, a) => a.indexOf(v) === i).join(", ")} round trips\n`);
  console.log(`${machine.cpuModel} × ${machine.cores}, Linux ${machine.kernelRelease}, Node ${machine.node}; ` +
    `${pinning.pinned ? `client CPU ${pinning.client}, server CPU ${pinning.server} (taskset)` : `unpinned: ${pinning.reason}`}; ` +
    `${options.reps} interleaved repeats × ${options.measureMs} ms (+${options.warmupMs} ms warm-up); ` +
    `foreign CPU load median ${foreign.median?.toFixed(0) ?? "–"} % (max ${foreign.max?.toFixed(0) ?? "–"} %) of the box.\n`);
  const clean = runs.filter((r) => r.ok && r.foreignPct <= CLEAN_FOREIGN_PCT).length;
  if (clean < runs.length / 2) {
    console.log(`**Warning: only ${clean} of ${runs.length} runs were clean: other processes used the CPUs; latencies and ratios reflect a loaded machine.**\n`);
  }
  console.log("Cells: median (min–max) over repeats; ratios paired per interleaved round; clean = foreign CPU ≤ " + `${CLEAN_FOREIGN_PCT} % (stats use clean runs when ≥ 2).\n`);
  console.log(resultsTable(rows));
  if (targets.length) console.log(`\n${targetsTable(targets)}`);
  console.log(`\nJSON: ${jsonPath}\nplot: ${svgPath}`);
  if (failed.length) {
    console.error(`\n${failed.length} configuration(s) produced no result:\n${failed.map((r) => `  ${r.driver} ×${r.inflight}: ${r.errors[0]}`).join("\n")}`);
    return 1;
  }
  return 0;
}

runMain(main, "echo benchmark");
