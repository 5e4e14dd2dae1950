// Formatting and argument helpers shared by the `connect-rdma` subcommands: sizes,
// durations, aligned columns, percentiles of sorted samples, the package's own version,
// and UsageError (a bad command line: exit code 2 with the command's help).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The package root: this file is dist/cli/format.js (or src/cli/format.ts). */
export const packageRoot = fileURLToPath(new URL("../../", import.meta.url));

/** connect-rdma's version from its package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(`${packageRoot}package.json`, "utf8")) as { version?: string };
  return pkg.version ?? "unknown";
}

/** A wrong command line: main() prints the message and the command's help, exit 2. */
export class UsageError extends Error {
  readonly help: string;
  constructor(message: string, help: string) {
    super(message);
    this.name = "UsageError";
    this.help = help;
  }
}

/** "64 B", "16 KiB", "72 MiB", "1.5 GiB". */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return "unlimited";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${text} ${units[unit]}`;
}

/** Microseconds with sensible precision: "7.9 µs", "61 µs", "1.24 ms". */
export function micros(us: number): string {
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  return us >= 100 ? `${Math.round(us)} µs` : `${us.toFixed(1)} µs`;
}

/** Rows of cells as aligned text columns, each line indented by `indent`. */
export function columns(rows: readonly (readonly string[])[], indent = "  "): string {
  if (rows.length === 0) return "";
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => `${indent}${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("   ")}`.trimEnd()).join("\n");
}

/** Value at percentile p (0..100) of ascending samples (nearest rank); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Parses a non-negative integer option; UsageError naming the option otherwise. */
export function integerOption(name: string, text: string | undefined, fallback: number, help: string, min = 0): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new UsageError(`${name} must be an integer >= ${min}, got "${text}"`, help);
  return value;
}

/** Checks a value against a list of choices; UsageError otherwise. */
export function choiceOption<T extends string>(name: string, text: string | undefined, choices: readonly T[], fallback: T, help: string): T {
  if (text === undefined) return fallback;
  if (!(choices as readonly string[]).includes(text)) throw new UsageError(`${name} must be one of ${choices.join(", ")}, got "${text}"`, help);
  return text as T;
}
