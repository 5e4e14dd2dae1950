// Number formatting for the benchmarks' markdown tables: a value with a thousands
// suffix, a "median (min–max)" cell from a spread (summary.js), and the first line of a
// failed row's error. Formatting only; every number comes from the summaries.

/** A number with `digits` decimals, or "12.3k" / "123k" from 10,000 up; "–" when missing. */
export function num(value, digits) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  if (Math.abs(value) >= 10_000) return `${(value / 1000).toFixed(Math.abs(value) >= 100_000 ? 0 : 1)}k`;
  return value.toFixed(digits);
}

/** "median (min–max)", or the median alone when there is one value; "–" when none. */
export function cell(s, digits) {
  if (!s || s.median === null || s.median === undefined) return "–";
  if (s.n < 2) return num(s.median, digits);
  return `${num(s.median, digits)} (${num(s.min, digits)}–${num(s.max, digits)})`;
}

/** Decimals for a latency: one below 100 µs, none above. */
export const latencyDigits = (s) => (s?.median !== null && s?.median < 100 ? 1 : 0);

/** "failed: <first line of the first error>", for a row whose runs all failed. */
export const failedCell = (row) => `failed: ${(row.errors[0] ?? "no runs").split("\n")[0].slice(0, 120)}`;
