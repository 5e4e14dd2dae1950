// The shm:// benchmark in one run (issue 18): the C floor of the same ring (spin, event;
// ping-pong and a one-way stream of 64 B and 64 KiB messages),
// the channel echo (bench/echo.js: shm spin and event beside io_uring unix:// event), the
// Connect benchmarks (bench/connect.js: unary and 64 B / 64 KiB server streams over shm
// spin and event beside io_uring unix://), and the idle CPU of a connected event-mode
// pair. Prints one JSON summary with the targets and writes it to --out.
//   node bench/shm.js [--quick] [--out DIR] [--idle-seconds N]
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { measureIdleCpu } from "./lib/idle-cpu.js";
import { runShmPingpong, runShmStream } from "./lib/shm-floor.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const outDir = args.includes("--out") ? args[args.indexOf("--out") + 1] : join(root, "bench/results");
const idleSeconds = args.includes("--idle-seconds") ? Number(args[args.indexOf("--idle-seconds") + 1]) : 10;
mkdirSync(outDir, { recursive: true });
const runDir = join(outDir, `shm-run-${new Date().toISOString().replace(/[:.]/g, "-")}`);
mkdirSync(runDir, { recursive: true });

/** Runs a benchmark script; returns the JSON it wrote into its own --out directory. */
function bench(script, extra) {
  const dir = join(runDir, script.replace(/\W/g, "-") + "-" + extra.join("-").replace(/\W/g, ""));
  mkdirSync(dir, { recursive: true });
  execFileSync(process.execPath, [join(root, "bench", script), ...(quick ? ["--quick"] : []), ...extra, "--out", dir], { stdio: ["ignore", "ignore", "inherit"] });
  const file = readdirSync(dir).find((f) => f.endsWith(".json"));
  return JSON.parse(readFileSync(join(dir, file), "utf8"));
}

const iterations = quick ? 100_000 : 400_000;
const floor = {
  spin: runShmPingpong("spin", iterations),
  event: runShmPingpong("event", iterations / 4),
  stream: {
    spin64: runShmStream("spin", iterations * 5, 64),
    event64: runShmStream("event", iterations * 5, 64),
    spin64KiB: runShmStream("spin", iterations / 4, 65536),
    event64KiB: runShmStream("event", iterations / 4, 65536),
  },
};
const echo = bench("echo.js", ["--drivers", "shm-spin,shm-event,uring-unix-event"]);
const unary = bench("connect.js", ["--drivers", "ours-shm-spin,ours-shm-event,ours-uring-unix-event"]);
const stream = bench("connect.js", ["--workload", "stream", "--drivers", "ours-shm-spin,ours-shm-event,ours-shm-spin-large,ours-shm-event-large,ours-uring-unix-event"]);
const idle = await measureIdleCpu(idleSeconds);
const summary = { floor, idle, files: { runDir }, echo: pick(echo), unary: pick(unary), stream: pick(stream) };
summary.targets = targets(summary);
writeFileSync(join(runDir, "summary.json"), JSON.stringify(summary, null, 2));
console.log(JSON.stringify(summary, null, 2));

/** Each row of a benchmark's summary: its key and every statistic as [median, min, max]. */
function pick(result) {
  return (result.summary ?? []).map((row) => {
    const key = row.key ?? [row.driver, row.workload, row.payloadBytes, row.inflight].filter((x) => x !== undefined).join("/");
    const out = { key, runs: row.runs, clean: row.clean };
    for (const [name, value] of Object.entries(row)) {
      if (value && typeof value === "object" && "median" in value && value.median !== null) out[name] = [value.median, value.min, value.max];
    }
    return out;
  });
}

/** The targets of issue 18, from the rows of this one run. */
function targets(s) {
  const row = (rows, key) => rows.find((r) => r.key === key);
  const p50 = (rows, key) => row(rows, key)?.p50Us?.[0];
  const echoSpin = p50(s.echo, "shm-spin/64/1");
  const echoEvent = p50(s.echo, "shm-event/64/1");
  const uringEvent = p50(s.echo, "uring-unix-event/64/1");
  return {
    echoSpinP50Us: { goal: "<= 2", value: echoSpin },
    echoEventVsUringUnixEvent: { goal: "<= 0.8", value: echoEvent && uringEvent ? echoEvent / uringEvent : null },
    echoRttPerSecAt64: { spin: row(s.echo, "shm-spin/64/64")?.rttPerSec?.[0], event: row(s.echo, "shm-event/64/64")?.rttPerSec?.[0] },
    cFloorSpinP50Us: s.floor.spin.p50Ns / 1000,
    cFloorEventP50Us: s.floor.event.p50Ns / 1000,
    idleCpuPct: { goal: "< 1", value: s.idle.serverCpuPct + s.idle.clientCpuPct },
    unarySpinP50Us: { goal: "<= 8", value: p50(s.unary, "ours-shm-spin/64/1") },
    stream64MsgPerSec: { goal: ">= 2000000", value: bestShm(s.stream, 64, "messagesPerSec") },
    stream64KiBGBPerSec: { goal: ">= 5", value: (bestShm(s.stream, 65536, "mbPerSec") ?? NaN) / 1000 },
    cFloorStream64MsgPerSec: { spin: s.floor.stream.spin64.msgPerSec, event: s.floor.stream.event64.msgPerSec },
    cFloorStream64KiBGBPerSec: { spin: s.floor.stream.spin64KiB.bytesPerSec / 1e9, event: s.floor.stream.event64KiB.bytesPerSec / 1e9 },
  };
}

/** The best median of `stat` over the shm:// stream rows of one message size, or null. */
function bestShm(rows, payloadBytes, stat) {
  const shm = rows.filter((r) => r.key.startsWith("ours-shm-") && r.key.endsWith(`/${payloadBytes}/1`) && r[stat]);
  shm.sort((a, b) => b[stat][0] - a[stat][0]);
  return shm[0]?.[stat][0] ?? null;
}
