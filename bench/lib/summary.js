// From runs to results: per configuration the median and spread (min–max) over repeats,
// ratios against the raw node:net row paired by repeat (both runs of a pair come from the
// same interleaved round), and the targets checked against those medians.
// On a shared box a run is "clean" when the foreign load stayed <= CLEAN_FOREIGN_PCT;
// statistics use the clean runs when at least two exist, else all runs (and say so).

import { pairedRatio } from "./paired-ratio.js";
import { CLEAN_FOREIGN_PCT, isClean, selectRuns, spread } from "./runs.js";

export { CLEAN_FOREIGN_PCT, selectRuns, spread };
export const BASELINE_DRIVER = "net";

/** Targets of issue 2 ("Done when"), as ratios or absolutes measured in one run. */
export const TARGETS = [
  {
    id: "eventP50VsNet",
    label: "event p50 vs raw net (64 B, 1 in flight)",
    ratio: { driver: "uring-tcp-event", inflight: 1, metric: "p50Us" },
    goal: { op: "<=", value: 1.0, unit: "×" },
  },
  {
    id: "throughput64VsNet",
    label: "event RTT/s vs raw net (64 B, 64 in flight)",
    ratio: { driver: "uring-tcp-event", inflight: 64, metric: "rttPerSec" },
    goal: { op: ">=", value: 1.2, unit: "×" },
  },
  {
    id: "spinP50Us",
    label: "spin p50 (64 B, 1 in flight)",
    absolute: { driver: "uring-tcp-spin", inflight: 1, metric: "p50Us" },
    goal: { op: "<=", value: 12, unit: "µs" },
  },
];

const keyOf = (driver, payloadBytes, inflight) => `${driver}/${payloadBytes}/${inflight}`;

/** Paired ratios metric(driver)/metric(net) per repeat (paired-ratio.js). */
function pairedRatios(runs, driver, payloadBytes, inflight, metric) {
  const at = (id) => (r) => r.driver === id && r.payloadBytes === payloadBytes && r.inflight === inflight;
  return pairedRatio(runs, at(driver), at(BASELINE_DRIVER), metric);
}

/** One summary row per (driver, payload, in flight) that was planned. */
export function summarize(runs, drivers, workloads) {
  const rows = [];
  for (const { payloadBytes, inflight } of workloads) {
    for (const driver of drivers) {
      const all = runs.filter((r) => r.driver === driver.id && r.payloadBytes === payloadBytes && r.inflight === inflight);
      const { runs: used, basis } = selectRuns(all);
      const metric = (f) => spread(used.map(f));
      const failures = all.filter((r) => !r.ok);
      const row = {
        key: keyOf(driver.id, payloadBytes, inflight),
        driver: driver.id,
        label: driver.label,
        payloadBytes,
        inflight,
        runs: all.length,
        ok: all.length - failures.length,
        clean: all.filter(isClean).length,
        basis,
        errors: [...new Set(failures.map((r) => r.error))],
        p50Us: metric((r) => r.p50Us),
        p99Us: metric((r) => r.p99Us),
        p999Us: metric((r) => r.p999Us),
        rttPerSec: metric((r) => r.rttPerSec),
        clientCpuUsPerRtt: metric((r) => r.cpu.clientUsPerRtt),
        serverCpuUsPerRtt: metric((r) => r.cpu.serverUsPerRtt),
        foreignPct: spread(all.filter((r) => r.ok).map((r) => r.foreignPct)),
      };
      if (driver.id !== BASELINE_DRIVER) {
        row.p50VsNet = pairedRatios(runs, driver.id, payloadBytes, inflight, "p50Us");
        row.rttPerSecVsNet = pairedRatios(runs, driver.id, payloadBytes, inflight, "rttPerSec");
      }
      rows.push(row);
    }
  }
  return rows;
}

/** The targets with their measured medians and spreads, and whether each was met. */
export function checkTargets(rows, payloadBytes) {
  return TARGETS.map((target) => {
    const ref = target.ratio ?? target.absolute;
    const row = rows.find((r) => r.key === keyOf(ref.driver, payloadBytes, ref.inflight));
    const measured = !row ? null : target.ratio ? (ref.metric === "p50Us" ? row.p50VsNet : row.rttPerSecVsNet) : row[ref.metric];
    const value = measured?.median ?? null;
    const met = value === null ? null : target.goal.op === "<=" ? value <= target.goal.value : value >= target.goal.value;
    return { id: target.id, label: target.label, goal: target.goal, measured: measured ?? null, met };
  });
}
