// Ratios paired by round: metric(a) / metric(b) for every interleaved round (`rep`) in
// which both ran, so that both runs of a pair saw the same machine. Pairs of clean runs
// (runs.js) are used when at least two exist, else
// every pair (and `basis` says so).
import { isClean, spread } from "./runs.js";

/**
 * `isA` and `isB` select the runs of each side; returns the spread of the ratios plus
 * `basis` ("clean" | "all"), `pairs` and `perRound` (the ratios used, in round order).
 */
export function pairedRatio(runs, isA, isB, metric) {
  const byRep = (is) => new Map(runs.filter((r) => r.ok && is(r)).map((r) => [r.rep, r]));
  const mine = byRep(isA);
  const base = byRep(isB);
  const pairs = [...mine].filter(([rep]) => base.has(rep)).map(([rep, run]) => ({ rep, a: run, b: base.get(rep) }));
  const clean = pairs.filter((p) => isClean(p.a) && isClean(p.b));
  const used = clean.length >= 2 ? clean : pairs;
  const perRound = used.map((p) => p.a[metric] / p.b[metric]);
  return { ...spread(perRound), basis: used === clean ? "clean" : "all", pairs: pairs.length, perRound };
}
