// Statistics over repeated benchmark runs: the spread (median, min, max) of a metric, and
// which runs count. On a shared box a run is "clean" when the foreign load stayed
// <= CLEAN_FOREIGN_PCT; statistics use the clean runs when at least two exist, else all
// runs that worked (and say so).

export const CLEAN_FOREIGN_PCT = 5;

/** { median, min, max, n } of the finite values (null median when there are none). */
export function spread(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { median: null, min: null, max: null, n: 0 };
  const mid = Math.floor(n / 2);
  const median = n % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[n - 1], n };
}

export const isClean = (run) => run.ok && run.foreignPct <= CLEAN_FOREIGN_PCT;

/** The runs statistics are taken over: clean ones when >= 2 exist, else all that worked. */
export function selectRuns(runs) {
  const ok = runs.filter((r) => r.ok);
  const clean = ok.filter(isClean);
  return clean.length >= 2 ? { runs: clean, basis: "clean" } : { runs: ok, basis: "all" };
}
