// Summary of the RDMA guest benchmark (bench/rdma-guest.js): per row the median and
// spread of p50 (and p99) over the rounds, the ratios paired per round (our RDMA unary
// RPC against our io_uring TCP one and against perftest), and the markdown tables.

const median = (values) => {
  const sorted = values.filter((v) => typeof v === "number" && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const spread = (values) => {
  const ok = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  return ok.length ? { median: median(ok), min: Math.min(...ok), max: Math.max(...ok), n: ok.length } : null;
};

/** Issue 4: our RDMA unary p50 at most this fraction of our io_uring TCP unary p50, same guest. */
export const TARGET_RATIO = 0.6;

/** Rows: one per driver id in `rows` order, p50/p99/throughput spread over its ok runs. */
export function summarize(runs, rows) {
  return rows.map(({ id, label }) => {
    const mine = runs.filter((r) => r.driver === id);
    const ok = mine.filter((r) => r.ok);
    return {
      id,
      label,
      runs: mine.length,
      ok: ok.length,
      p50Us: spread(ok.map((r) => r.p50Us)),
      p99Us: spread(ok.map((r) => r.p99Us)),
      perSec: spread(ok.map((r) => r.callsPerSec ?? r.rttPerSec ?? null)),
      errors: mine.filter((r) => !r.ok).map((r) => r.error),
    };
  });
}

/** p50(a) / p50(b) for every round where both ran, and their median. */
export function pairedRatio(runs, a, b) {
  const rounds = [...new Set(runs.map((r) => r.rep))];
  const ratios = rounds.flatMap((rep) => {
    const x = runs.find((r) => r.rep === rep && r.driver === a && r.ok);
    const y = runs.find((r) => r.rep === rep && r.driver === b && r.ok);
    return x && y ? [x.p50Us / y.p50Us] : [];
  });
  return { a, b, perRound: ratios, ...spread(ratios) };
}

const fmt = (s, digits = 1) => (s ? `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})` : "–");

/** The results table (markdown). */
export function resultsTable(summary) {
  const lines = [
    "| round trip, 64 B, 1 in flight | p50 µs | p99 µs | per second | runs ok |",
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  for (const row of summary) {
    const perSec = row.perSec ? `${Math.round(row.perSec.median)}` : "–";
    lines.push(`| ${row.label} | ${fmt(row.p50Us)} | ${fmt(row.p99Us)} | ${perSec} | ${row.ok}/${row.runs} |`);
  }
  return lines.join("\n");
}

/** The ratios table (markdown), target first. */
export function ratiosTable(ratios) {
  const lines = ["| ratio of p50s (paired per round) | median (min–max) | target | met |", "| --- | ---: | ---: | :---: |"];
  for (const r of ratios) {
    const met = r.target === undefined || r.median === null || r.median === undefined ? "" : r.median <= r.target ? "yes" : "**no**";
    lines.push(`| ${r.label} | ${r.median == null ? "–" : fmt(r, 2)} | ${r.target === undefined ? "" : `≤ ${r.target}`} | ${met} |`);
  }
  return lines.join("\n");
}
