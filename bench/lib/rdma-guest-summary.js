// Summary of the RDMA guest benchmark (bench/rdma-guest.js): per row the median and
// spread of p50 (and p99) over the rounds, the ratios paired per round (our RDMA unary
// RPC against our io_uring TCP one and against perftest), and the markdown tables.

import { pairedRatio as pairedRatioOf } from "./paired-ratio.js";
import { spread } from "./runs.js";
import { cell } from "./format.js";

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

/** p50(a) / p50(b) for every round where both ran (paired-ratio.js), and their spread. */
export function pairedRatio(runs, a, b) {
  return { a, b, ...pairedRatioOf(runs, (r) => r.driver === a, (r) => r.driver === b, "p50Us") };
}

/** The results table (markdown). */
export function resultsTable(summary) {
  const lines = [
    "| round trip, 64 B, 1 in flight | p50 µs | p99 µs | per second | runs ok |",
    "| --- | ---: | ---: | ---: | ---: |",
  ];
  for (const row of summary) {
    const perSec = row.perSec.median != null ? `${Math.round(row.perSec.median)}` : "–";
    lines.push(`| ${row.label} | ${cell(row.p50Us, 1)} | ${cell(row.p99Us, 1)} | ${perSec} | ${row.ok}/${row.runs} |`);
  }
  return lines.join("\n");
}

/** The ratios table (markdown), target first. */
export function ratiosTable(ratios) {
  const lines = ["| ratio of p50s (paired per round) | median (min–max) | target | met |", "| --- | ---: | ---: | :---: |"];
  for (const r of ratios) {
    const met = r.target === undefined || r.median === null || r.median === undefined ? "" : r.median <= r.target ? "yes" : "**no**";
    lines.push(`| ${r.label} | ${r.median == null ? "–" : cell(r, 2)} | ${r.target === undefined ? "" : `≤ ${r.target}`} | ${met} |`);
  }
  return lines.join("\n");
}
