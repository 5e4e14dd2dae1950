// npm run bench:rss: memory over a long unary run (issue 5: "RSS flat (± 10 %) over a
// 1,000,000-call run"). One server child (connect-server.js, the Connect benchmark's,
// ours over io_uring TCP by default) and a client in this process, 64 calls in flight.
// After a warm-up (the first 10 % of the calls, at least 50,000) the server's and the
// client's RSS are sampled every 250 ms until the last call. Flat = the median of the last
// quarter of those samples within ± limit of the first quarter's (a leak is a trend; the
// collector's sawtooth is not); the highest sample is reported as well.
// Prints a markdown table and writes bench/results/rss-<timestamp>.json.
//   node bench/rss.js [--calls 1000000] [--inflight 64] [--driver ours-uring-tcp-event] [--limit-pct 10]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { createClient } from "@connectrpc/connect";

import { BenchService } from "./gen/bench/v1/bench_pb.js";
import { machineInfo } from "./lib/machine.js";
import { Child } from "./lib/processes.js";
import { rpcDriverById, rpcImplementation, rpcListenAddress } from "./lib/rpc-drivers.js";

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "1000000" },
    inflight: { type: "string", default: "64" },
    driver: { type: "string", default: "ours-uring-tcp-event" },
    "limit-pct": { type: "string", default: "10" },
    out: { type: "string", default: new URL("./results/", import.meta.url).pathname },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log("usage: node bench/rss.js [--calls N] [--inflight N] [--driver ID] [--limit-pct P] [--out DIR]");
  process.exit(0);
}
const calls = Number(values.calls);
const inflight = Number(values.inflight);
const limitPct = Number(values["limit-pct"]);
const warmupCalls = Math.min(calls, Math.max(50_000, Math.round(calls / 10)));
const driver = rpcDriverById(values.driver);
if (driver.kind !== "ours" && driver.kind !== "connect-node" && driver.kind !== "grpc-js") {
  throw new Error(`--driver ${driver.id} is not an RPC driver`);
}

/** Resident set size of a process in bytes (/proc/PID/status VmRSS). */
function rssOf(pid) {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : NaN;
}

const MB = 1024 * 1024;
const server = new Child(`${driver.id} server`, new URL("./connect-server.js", import.meta.url).pathname, [driver.id, rpcListenAddress(driver, 0)]);
try {
  const ready = await server.next("ready", 15_000);
  const { createCaller } = await rpcImplementation(driver);
  const caller = await createCaller(driver, ready.endpoint, 64);

  const samples = []; // { calls, serverRss, clientRss, ms }
  let done = 0;
  let next = 1;
  let baseline;
  const started = performance.now();
  const sample = () => {
    const s = { calls: done, serverRss: rssOf(server.pid), clientRss: process.memoryUsage().rss, ms: Math.round(performance.now() - started) };
    samples.push(s);
    if (baseline === undefined && done >= warmupCalls) baseline = s;
    const pct = Math.floor((100 * done) / calls);
    process.stderr.write(
      `\r\x1b[K[${"#".repeat(Math.floor(pct / 4)).padEnd(25, ".")}] ${done.toLocaleString("en-US")}/${calls.toLocaleString("en-US")} calls` +
        `  server ${(s.serverRss / MB).toFixed(1)} MB  client ${(s.clientRss / MB).toFixed(1)} MB${baseline ? "" : "  (warm-up)"}`,
    );
  };
  const timer = setInterval(sample, 250);
  const lane = async () => {
    while (next <= calls) await caller.call(next++).then(() => void done++);
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  clearInterval(timer);
  sample();
  process.stderr.write("\n");
  const seconds = (performance.now() - started) / 1000;
  const after = samples.filter((s) => baseline !== undefined && s.calls >= baseline.calls);
  // The garbage collector makes RSS a sawtooth (young generation, old-generation cycles):
  // a leak is a trend, so "flat" compares the median of the first and the last quarter of
  // the measured samples; the highest sample is reported too.
  const median = (xs) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  };
  const growth = (key) => {
    if (after.length < 8) return { trendPct: NaN, maxPct: NaN };
    const quarter = Math.floor(after.length / 4);
    const first = median(after.slice(0, quarter).map((s) => s[key]));
    const last = median(after.slice(-quarter).map((s) => s[key]));
    const max = Math.max(...after.map((s) => s[key]));
    return { firstQuarterBytes: first, lastQuarterBytes: last, maxBytes: max, trendPct: (100 * (last - first)) / first, maxPct: (100 * (max - first)) / first };
  };
  const result = {
    kind: "rss",
    driver: driver.id,
    calls,
    inflight,
    warmupCalls,
    seconds,
    callsPerSec: calls / seconds,
    limitPct,
    server: growth("serverRss"),
    client: growth("clientRss"),
    stats: caller.stats(),
    machine: machineInfo(),
    samples,
  };
  await caller.close();

  const signed = (x) => `${x >= 0 ? "+" : ""}${x.toFixed(1)} %`;
  const row = (who, g) =>
    `| ${who} | ${(g.firstQuarterBytes / MB).toFixed(1)} | ${(g.lastQuarterBytes / MB).toFixed(1)} | ${signed(g.trendPct)} | ${(g.maxBytes / MB).toFixed(1)} (${signed(g.maxPct)}) | ${Math.abs(g.trendPct) <= limitPct ? "yes" : "**no**"} |`;
  console.log(`## RSS over ${calls.toLocaleString("en-US")} unary calls (${driver.label}, ${inflight} in flight)\n`);
  console.log(`${result.machine.cpuModel} × ${result.machine.cores}, Linux ${result.machine.kernelRelease}, Node ${process.version}; ${Math.round(result.callsPerSec).toLocaleString("en-US")} calls/s over ${seconds.toFixed(1)} s; baseline after ${warmupCalls.toLocaleString("en-US")} calls.\n`);
  console.log(`| process | RSS median, first quarter MB | last quarter MB | trend | highest MB (vs first quarter) | flat (± ${limitPct} %) |`);
  console.log("|---|---|---|---|---|---|");
  console.log(row("server", result.server));
  console.log(row("client", result.client));
  mkdirSync(values.out, { recursive: true });
  const file = `${values.out}/rss-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nJSON: ${file}`);
} finally {
  server.send({ type: "stop" });
  await server.next("stopped", 10_000).catch(() => undefined);
  await server.stop();
}
