// Markdown for stdout: the results table (medians with min–max spreads) and the
// targets table. Numbers only, formatting only: everything comes from summary.js.
import { cell, failedCell, latencyDigits, num } from "./format.js";

/**
 * A latency results table, one line per (driver, in flight): p50/p99/p99.9, a rate,
 * both against a reference row, CPU per round trip. `spec` names the rate and CPU
 * fields of the rows, their column titles and the reference (echo: "net"; RPC: a peer).
 */
export function latencyTable(rows, spec) {
  const { rate, rateTitle, cpuClient, cpuServer, cpuTitle, p50Ratio, rateRatio, reference, ratioDigits } = spec;
  const lines = [
    `| driver | in flight | p50 µs | p99 µs | p99.9 µs | ${rateTitle} | p50 × ${reference} | ${rateTitle} × ${reference} | ${cpuTitle} | runs (clean) |`,
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    if (row.ok === 0) {
      lines.push(`| ${row.label} | ${row.inflight} | ${failedCell(row)} | | | | | | | ${row.runs} (0) |`);
      continue;
    }
    const cpu = `${num(row[cpuClient].median, 1)} + ${num(row[cpuServer].median, 1)}`;
    lines.push(
      `| ${row.label} | ${row.inflight} | ${cell(row.p50Us, latencyDigits(row.p50Us))} | ${cell(row.p99Us, latencyDigits(row.p99Us))} | ` +
        `${cell(row.p999Us, latencyDigits(row.p999Us))} | ${cell(row[rate], 0)} | ${row[p50Ratio] ? cell(row[p50Ratio], ratioDigits.p50) : "1"} | ` +
        `${row[rateRatio] ? cell(row[rateRatio], ratioDigits.rate) : "1"} | ${cpu} | ${row.ok} (${row.clean}${row.basis === "all" ? ", stats over all" : ""}) |`,
    );
  }
  return lines.join("\n");
}

/** The echo benchmark's table (bench/echo.js), against raw node:net. */
export function resultsTable(rows) {
  return latencyTable(rows, {
    rate: "rttPerSec",
    rateTitle: "RTT/s",
    cpuClient: "clientCpuUsPerRtt",
    cpuServer: "serverCpuUsPerRtt",
    cpuTitle: "CPU µs/RTT client+server",
    p50Ratio: "p50VsNet",
    rateRatio: "rttPerSecVsNet",
    reference: "net",
    ratioDigits: { p50: 2, rate: 2 },
  });
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
