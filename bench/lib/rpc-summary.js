// From Connect benchmark runs to results: per (driver, rpc, payload, in flight) the median
// and spread (min–max) over repeats, ratios paired by interleaved round, the targets of
// issues 3 and 5 checked against those medians, and the markdown tables. Unary rows carry
// latency and calls/s; server-stream rows (rpc "stream") messages/s, MB/s and copies. Clean-run rule
// as in the echo benchmark (summary.js): foreign CPU <= CLEAN_FOREIGN_PCT, statistics
// over the clean runs when at least two exist, else over all runs (and said so).
import { cell, failedCell, latencyDigits, num } from "./format.js";
import { pairedRatio as pairedRatioOf } from "./paired-ratio.js";
import { CLEAN_FOREIGN_PCT, isClean, selectRuns, spread } from "./runs.js";
import { latencyTable } from "./table.js";

export { CLEAN_FOREIGN_PCT };

const rpcOf = (x) => x.rpc ?? "unary";
const matches = (driver, payloadBytes, inflight, rpc = "unary") => (r) =>
  r.driver === driver && r.payloadBytes === payloadBytes && r.inflight === inflight && rpcOf(r) === rpc;

/** Paired ratios metric(a) / metric(b) over the rounds where both ran (paired-ratio.js). */
export function pairedRatio(runs, a, b, metric) {
  return pairedRatioOf(runs, matches(a.driver, a.payloadBytes, a.inflight, rpcOf(a)), matches(b.driver, b.payloadBytes, b.inflight, rpcOf(b)), metric);
}

/** One row per planned (driver, workload): workloads are { rpc?, payloadBytes, inflight }. */
export function summarizeRpc(runs, drivers, workloads, reference) {
  const rows = [];
  for (const workload of workloads) {
    const { payloadBytes, inflight } = workload;
    const rpc = rpcOf(workload);
    const stream = rpc === "stream";
    for (const driver of drivers) {
      const all = runs.filter(matches(driver.id, payloadBytes, inflight, rpc));
      const { runs: used, basis } = selectRuns(all);
      const metric = (f) => spread(used.map(f));
      const failures = all.filter((r) => !r.ok);
      const row = {
        driver: driver.id,
        label: driver.label,
        kind: driver.kind,
        rpc,
        payloadBytes,
        inflight,
        runs: all.length,
        ok: all.length - failures.length,
        clean: all.filter(isClean).length,
        basis,
        errors: [...new Set(failures.map((r) => r.error))],
        ...(stream
          ? {
              messagesPerSec: metric((r) => r.messagesPerSec),
              mbPerSec: metric((r) => r.mbPerSec),
              clientCpuUsPerMsg: metric((r) => r.cpu.clientUsPerMsg),
              serverCpuUsPerMsg: metric((r) => r.cpu.serverUsPerMsg),
              clientCopiesPerMsg: metric((r) => r.copiesPerMsg?.client ?? NaN),
              serverCopiesPerMsg: metric((r) => r.copiesPerMsg?.server ?? NaN),
            }
          : {
              p50Us: metric((r) => r.p50Us),
              p99Us: metric((r) => r.p99Us),
              p999Us: metric((r) => r.p999Us),
              callsPerSec: metric((r) => r.callsPerSec),
              clientCpuUsPerCall: metric((r) => r.cpu.clientUsPerCall),
              serverCpuUsPerCall: metric((r) => r.cpu.serverUsPerCall),
            }),
        foreignPct: spread(all.filter((r) => r.ok).map((r) => r.foreignPct)),
      };
      if (driver.id !== reference) {
        const mine = { driver: driver.id, payloadBytes, inflight, rpc };
        const ref = { driver: reference, payloadBytes, inflight, rpc };
        if (stream) row.messagesPerSecVsReference = pairedRatio(runs, mine, ref, "messagesPerSec");
        else {
          row.p50VsReference = pairedRatio(runs, mine, ref, "p50Us");
          row.callsPerSecVsReference = pairedRatio(runs, mine, ref, "callsPerSec");
        }
      }
      rows.push(row);
    }
  }
  return rows;
}

/**
 * The targets: issue 3 (Connect layer done), issue 5 (performance) and issue 14 (encode
 * in place; `fresh`: measured by a --fresh stream run), each a paired
 * ratio of two drivers or an absolute median of one, for the unary workload (at the
 * run's first payload) or, with `rpc: "stream"`, the server stream at `payloadBytes`.
 */
export const RPC_TARGETS = [
  {
    id: "eventP50VsConnectNode",
    issue: 3,
    label: "ours event p50 / connect-node HTTP/2 p50 (1 in flight)",
    ratio: { a: "ours-uring-tcp-event", b: "connect-node-h2", inflight: 1, metric: "p50Us" },
    goal: { op: "<=", value: 0.2, unit: "×" },
  },
  {
    id: "eventP50VsChannelEcho",
    issue: "3, 14",
    label: "ours event p50 / raw channel echo p50 (1 in flight)",
    ratio: { a: "ours-uring-tcp-event", b: "channel-echo-uring-tcp", inflight: 1, metric: "p50Us" },
    goal: { op: "<=", value: 1.3, unit: "×" },
  },
  {
    id: "eventCallsPerSec64",
    issue: 3,
    label: "ours event unary calls/s (64 in flight)",
    absolute: { driver: "ours-uring-tcp-event", inflight: 64, metric: "callsPerSec" },
    goal: { op: ">=", value: 100_000, unit: "calls/s" },
  },
  {
    id: "eventP50VsConnectNodeIssue5",
    issue: 5,
    label: "ours event p50 / connect-node HTTP/2 p50 (1 in flight)",
    ratio: { a: "ours-uring-tcp-event", b: "connect-node-h2", inflight: 1, metric: "p50Us" },
    goal: { op: "<=", value: 0.17, unit: "×" },
  },
  {
    id: "spinP50Us",
    issue: 5,
    label: "ours spin p50 (1 in flight)",
    absolute: { driver: "ours-uring-tcp-spin", inflight: 1, metric: "p50Us" },
    goal: { op: "<=", value: 12, unit: "µs" },
  },
  {
    id: "eventCallsPerSec64VsConnectNode",
    issue: 5,
    label: "ours event calls/s / connect-node calls/s (64 in flight)",
    ratio: { a: "ours-uring-tcp-event", b: "connect-node-h2", inflight: 64, metric: "callsPerSec" },
    goal: { op: ">=", value: 30, unit: "×" },
  },
  {
    id: "streamTcpMsgPerSec64",
    issue: "5, 14",
    label: "ours io_uring TCP event, server stream of 64 B messages, one connection",
    rpc: "stream",
    absolute: { driver: "ours-uring-tcp-event", payloadBytes: 64, inflight: 1, metric: "messagesPerSec" },
    goal: { op: ">=", value: 1_000_000, unit: "msg/s" },
  },
  {
    id: "streamUnixMsgPerSec64",
    issue: 5,
    label: "ours io_uring Unix event, server stream of 64 B messages, one connection",
    rpc: "stream",
    absolute: { driver: "ours-uring-unix-event", payloadBytes: 64, inflight: 1, metric: "messagesPerSec" },
    goal: { op: ">=", value: 1_000_000, unit: "msg/s" },
  },
  {
    id: "streamUnixMBPerSec64K",
    issue: 5,
    label: "ours io_uring Unix event, server stream of 64 KiB messages (2 GB/s)",
    rpc: "stream",
    absolute: { driver: "ours-uring-unix-event", payloadBytes: 65536, inflight: 1, metric: "mbPerSec" },
    goal: { op: ">=", value: 2000, unit: "MB/s" },
  },
  {
    id: "streamUnixMBPerSec64KLarge",
    issue: 5,
    label: "the same with large-message tuning (256 KiB slots, bytes: alias)",
    rpc: "stream",
    absolute: { driver: "ours-uring-unix-event-large", payloadBytes: 65536, inflight: 1, metric: "mbPerSec" },
    goal: { op: ">=", value: 2000, unit: "MB/s" },
  },
  {
    id: "spinP50VsChannelSpin",
    issue: 14,
    label: "ours spin p50 / raw channel spin echo p50 (1 in flight)",
    ratio: { a: "ours-uring-tcp-spin", b: "channel-echo-uring-tcp-spin", inflight: 1, metric: "p50Us" },
    goal: { op: "<=", value: 1.4, unit: "×" },
  },
  {
    id: "eventCallsPerSec64Issue14",
    issue: 14,
    label: "ours event unary calls/s (64 in flight)",
    absolute: { driver: "ours-uring-tcp-event", inflight: 64, metric: "callsPerSec" },
    goal: { op: ">=", value: 200_000, unit: "calls/s" },
  },
  {
    id: "streamFreshVsConnectNode",
    issue: 14,
    label: "ours io_uring TCP event / connect-node, stream of fresh 64 B messages (--fresh)",
    rpc: "stream",
    fresh: true,
    ratio: { a: "ours-uring-tcp-event", b: "connect-node-h2", payloadBytes: 64, inflight: 1, metric: "messagesPerSec" },
    goal: { op: ">=", value: 8, unit: "×" },
  },
];

/**
 * The targets of workload kind `rpc` ("unary" at `payloadBytes`, "stream" at each
 * target's own payload; `fresh`: a --fresh stream run) with measured medians and spreads; unmeasurable ones (driver or
 * payload not run) have met: null.
 */
export function checkRpcTargets(runs, rows, payloadBytes, rpc = "unary", fresh = false) {
  // A --fresh stream run checks only the targets of fresh messages, and the others only the rest.
  return RPC_TARGETS.filter((target) => rpcOf(target) === rpc && (target.fresh === true) === fresh).map((target) => {
    let measured = null;
    if (target.ratio) {
      const { a, b, inflight, metric } = target.ratio;
      const bytes = target.ratio.payloadBytes ?? payloadBytes;
      const r = pairedRatio(runs, { driver: a, payloadBytes: bytes, inflight, rpc }, { driver: b, payloadBytes: bytes, inflight, rpc }, metric);
      measured = r.median === null ? null : r;
    } else {
      const { driver, inflight, metric } = target.absolute;
      const bytes = target.absolute.payloadBytes ?? payloadBytes;
      const row = rows.find((x) => x.driver === driver && x.inflight === inflight && x.payloadBytes === bytes && x.rpc === rpc);
      measured = row && row[metric]?.median != null ? row[metric] : null;
    }
    const value = measured?.median ?? null;
    const met = value === null ? null : target.goal.op === "<=" ? value <= target.goal.value : value >= target.goal.value;
    return { id: target.id, issue: target.issue, label: target.label, goal: target.goal, measured, met };
  });
}

/** The RPC results table, one line per (driver, in flight), against `referenceLabel`. */
export function rpcResultsTable(rows, referenceLabel) {
  return latencyTable(rows, {
    rate: "callsPerSec",
    rateTitle: "calls/s",
    cpuClient: "clientCpuUsPerCall",
    cpuServer: "serverCpuUsPerCall",
    cpuTitle: "CPU µs/call client + server",
    p50Ratio: "p50VsReference",
    rateRatio: "callsPerSecVsReference",
    reference: referenceLabel,
    ratioDigits: { p50: 3, rate: 1 },
  });
}

/** The server-stream table, one line per (driver, payload). */
export function rpcStreamTable(rows, referenceLabel) {
  const lines = [
    `| driver | payload | msg/s | MB/s | msg/s × ${referenceLabel} | CPU µs/msg client + server | copies/msg client + server | runs (clean) |`,
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const row of rows) {
    const payload = row.payloadBytes >= 1024 && row.payloadBytes % 1024 === 0 ? `${row.payloadBytes / 1024} KiB` : `${row.payloadBytes} B`;
    if (row.ok === 0) {
      lines.push(`| ${row.label} | ${payload} | ${failedCell(row)} | | | | | ${row.runs} (0) |`);
      continue;
    }
    const cpuDigits = (s) => (s.median !== null && s.median < 10 ? 2 : 1);
    const cpu = `${num(row.clientCpuUsPerMsg.median, cpuDigits(row.clientCpuUsPerMsg))} + ${num(row.serverCpuUsPerMsg.median, cpuDigits(row.serverCpuUsPerMsg))}`;
    const copies = row.clientCopiesPerMsg.median === null && row.serverCopiesPerMsg.median === null ? "–" : `${num(row.clientCopiesPerMsg.median, 2)} + ${num(row.serverCopiesPerMsg.median, 2)}`;
    lines.push(
      `| ${row.label} | ${payload} | ${cell(row.messagesPerSec, 0)} | ${cell(row.mbPerSec, row.mbPerSec.median < 100 ? 1 : 0)} | ` +
        `${row.messagesPerSecVsReference ? cell(row.messagesPerSecVsReference, 2) : "1"} | ${cpu} | ${copies} | ${row.ok} (${row.clean}${row.basis === "all" ? ", stats over all" : ""}) |`,
    );
  }
  return lines.join("\n");
}

/** The targets with the measured median (min–max). */
export function rpcTargetsTable(targets) {
  const lines = ["| issue | target | goal | measured median (min–max) | met |", "|---|---|---|---|---|"];
  for (const t of targets) {
    const digits = t.goal.unit === "×" ? 3 : t.goal.unit === "µs" ? 1 : 0;
    const unit = t.goal.unit === "×" ? "×" : ` ${t.goal.unit}`;
    const goal = `${t.goal.op} ${t.goal.value >= 10_000 ? t.goal.value.toLocaleString("en-US") : t.goal.value}${unit}`;
    const measured = t.measured?.median == null ? "–" : `${cell(t.measured, digits)}${unit}`;
    const met = t.met === null ? "not measured" : t.met ? "yes" : "**no**";
    lines.push(`| ${t.issue} | ${t.label} | ${goal} | ${measured} | ${met} |`);
  }
  return lines.join("\n");
}
