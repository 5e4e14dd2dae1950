// Small formatting helpers for the demo's console output.

/** "1 MiB", "16 KiB + 1 B", "64 B". */
export function size(bytes) {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024) {
    const kib = Math.floor(bytes / 1024);
    const rest = bytes - kib * 1024;
    return rest === 0 ? `${kib} KiB` : `${kib} KiB + ${rest} B`;
  }
  return `${bytes} B`;
}

/** µs with sensible precision ("7.9 µs", "61 µs", "1.24 ms"). */
export function micros(us) {
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  return us >= 100 ? `${Math.round(us)} µs` : `${us.toFixed(1)} µs`;
}

/** Bytes as "8 MiB" or "unlimited". */
export function limit(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return "unlimited";
  return size(bytes);
}

/** Rows of cells as aligned text columns, indented by two spaces. */
export function columns(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => `  ${r.map((c, i) => String(c).padEnd(widths[i])).join("   ")}`.trimEnd()).join("\n");
}

/** Value at percentile p (0..100) of sorted numbers (nearest rank). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}
