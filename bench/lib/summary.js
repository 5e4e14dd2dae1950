// From runs to results: per configuration the median and spread (min–max) over repeats,
// ratios against the raw node:net row paired by repeat (both runs of a pair come from the
// same interleaved round), and the targets checked against those medians.
// On a shared box a run is "clean" when the foreign load stayed <= CLEAN_FOREIGN_PCT;
// statistics use the clean runs when at least two exist, else all runs (and say so).

export const CLEAN_FOREIGN_PCT = 5;
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

/** { median, min, max, n } of the finite values (null median when there are none). */
export function spread(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { median: null, min: null, max: null, n: 0 };
  const mid = Math.floor(n / 2);
  const median = n % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[n - 1], n };
}

const isClean = (run) => run.ok && run.foreignPct <= CLEAN_FOREIGN_PCT;

/** The runs statistics are taken over: clean ones when >= 2 exist, else all that worked. */
export function selectRuns(runs) {
  const ok = runs.filter((r) => r.ok);
  const clean = ok.filter(isClean);
  return clean.length >= 2 ? { runs: clean, basis: "clean" } : { runs: ok, basis: "all" };
}

const keyOf = (driver, payloadBytes, inflight) => `${driver}/${payloadBytes}/${inflight}`;

/** Paired ratios metric(driver)/metric(net) per repeat, with the same clean rule. */
function pairedRatios(runs, driver, payloadBytes, inflight, metric) {
  const byRep = (id) => new Map(runs.filter((r) => r.ok && r.driver === id && r.payloadBytes === payloadBytes && r.inflight === inflight).map((r) => [r.rep, r]));
  const ours = byRep(driver);
  const base = byRep(BASELINE_DRIVER);
  const pairs = [...ours].filter(([rep]) => base.has(rep)).map(([rep, run]) => ({ rep, ours: run, base: base.get(rep) }));
  const clean = pairs.filter((p) => isClean(p.ours) && isClean(p.base));
  const used = clean.length >= 2 ? clean : pairs;
  return { ...spread(used.map((p) => p.ours[metric] / p.base[metric])), basis: used === clean ? "clean" : "all", pairs: pairs.length };
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
