// Small output helpers of the examples: aligned columns and microseconds.

/** Rows of cells as aligned text columns, indented by two spaces. */
export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => `  ${r.map((c, i) => String(c).padEnd(widths[i])).join("   ")}`.trimEnd()).join("\n");
}

/** Nanoseconds as µs with sensible precision ("7.9 µs", "61 µs", "1.24 ms"). */
export function us(ns) {
  const micros = ns / 1000;
  if (!Number.isFinite(micros)) return "-";
  if (micros >= 1000) return `${(micros / 1000).toFixed(2)} ms`;
  return micros >= 100 ? `${Math.round(micros)} µs` : `${micros.toFixed(1)} µs`;
}
