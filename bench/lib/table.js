// Markdown for stdout: the results table (medians with min–max spreads) and the
// targets table. Numbers only, formatting only: everything comes from summary.js.
import { cell, failedCell, latencyDigits, num } from "./format.js";

/** The main table, one line per (driver, in flight). */
export function resultsTable(rows) {
  const lines = [
    "| driver | in flight | p50 µs | p99 µs | p99.9 µs | RTT/s | p50 × net | RTT/s × net | CPU µs/RTT client+server | runs (clean) |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    if (row.ok === 0) {
      lines.push(`| ${row.label} | ${row.inflight} | ${failedCell(row)} | | | | | | | ${row.runs} (0) |`);
      continue;
    }
    const cpu = `${num(row.clientCpuUsPerRtt.median, 1)} + ${num(row.serverCpuUsPerRtt.median, 1)}`;
    lines.push(
      `| ${row.label} | ${row.inflight} | ${cell(row.p50Us, latencyDigits(row.p50Us))} | ${cell(row.p99Us, latencyDigits(row.p99Us))} | ` +
        `${cell(row.p999Us, latencyDigits(row.p999Us))} | ${cell(row.rttPerSec, 0)} | ${row.p50VsNet ? cell(row.p50VsNet, 2) : "1"} | ` +
        `${row.rttPerSecVsNet ? cell(row.rttPerSecVsNet, 2) : "1"} | ${cpu} | ${row.ok} (${row.clean}${row.basis === "all" ? ", stats over all" : ""}) |`,
    );
  }
  return lines.join("\n");
}

/** The targets of issue 2 with the measured median (min–max). */
export function targetsTable(targets) {
  const lines = ["| target | goal | measured median (min–max) | met |", "|---|---|---|---|"];
  for (const t of targets) {
    const digits = t.goal.unit === "µs" ? 1 : 2;
    const goal = `${t.goal.op} ${t.goal.value}${t.goal.unit === "×" ? "×" : ` ${t.goal.unit}`}`;
    const unit = t.goal.unit === "×" ? "×" : ` ${t.goal.unit}`;
    const measured = t.measured?.median == null ? "–" : `${cell(t.measured, digits)}${unit}`;
    const met = t.met === null ? "not measured" : t.met ? "yes" : "**no**";
    lines.push(`| ${t.label} | ${goal} | ${measured} | ${met} |`);
  }
  return lines.join("\n");
}
