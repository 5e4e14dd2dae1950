// The RDMA benchmark (`npm run bench:rdma`; issue 4): boots the soft-RoCE guest once
// (`connect-rdma softroce run --mode guest`) and, in that one guest run, measures 64 B round trips
// at 1 in flight, in interleaved rounds with the order rotated:
//   - our unary Connect RPC over rdma:// (createServer on rxe0 / createRdmaTransport from
//     rxe1; server and client in separate pinned processes: lib/rpc-run.js),
//   - perftest ib_send_lat rxe1 -> rxe0 by GID, reported as a round trip (2 x t_typical),
//   - our unary Connect RPC over io_uring TCP (createUringTransport), same guest,
//   - the raw channel echo (no Connect) over RDMA and over io_uring TCP (lib/run.js),
//   - the TCP floor: a C ping-pong on 127.0.0.1, blocking and busy-polled (lib/tcp-floor.js;
//     compiled here on the host before the guest boots, since the guest cannot write).
// Prints markdown tables (medians and min–max over rounds, ratios paired per round,
// target: RDMA p50 <= 0.6 x io_uring TCP p50; the floors' ratio, perftest ÷ C TCP
// busy-poll, says whether RDMA beats TCP at all in this guest) and writes
// results/rdma-guest-<time>.json.
// Absolute numbers are those of an emulated CPU (TCG): compare within one run only.
// Never part of `npm test`.
import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { runMain } from "./lib/cli.js";
import { pinningPlan, waitForIdle } from "./lib/cpu.js";
import { driverById } from "./lib/drivers.js";
import { machineInfo } from "./lib/machine.js";
import { runSendLat } from "./lib/perftest.js";
import { TARGET_RATIO, pairedRatio, ratiosTable, resultsTable, summarize } from "./lib/rdma-guest-summary.js";
import { rpcDriverById } from "./lib/rpc-drivers.js";
import { runRpcOnce } from "./lib/rpc-run.js";
import { runOnce } from "./lib/run.js";
import { TCP_FLOOR_ROWS, buildTcpPingpong, runTcpPingpong } from "./lib/tcp-floor.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const USAGE = `usage: node bench/rdma-guest.js [options]      (npm run bench:rdma -- [options])
  --reps N          interleaved rounds (default 5; at least 3 for a spread)
  --warmup-ms MS    warm-up per run, not recorded (default 1000)
  --measure-ms MS   measured window per run (default 3000)
  --spin            also run our RDMA and io_uring TCP RPCs with poll: "spin" on both sides
  --spin-us US      busy-poll budget of the spin rows' engines (default 2000: a guest round
                    trip is longer than the default 50 µs, which would end in a wakeup)
  --iterations N    ib_send_lat and C TCP ping-pong iterations per run (default 5000)
  --no-pin          do not pin client and server to the guest's two vCPUs
  --timeout SEC     guest timeout (default 1500)
  --out DIR         where rdma-guest-<timestamp>.json goes (default bench/results)
  --in-guest        (internal) run the measurements here: the guest side
  --help`;

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      reps: { type: "string", default: "5" },
      "warmup-ms": { type: "string", default: "1000" },
      "measure-ms": { type: "string", default: "3000" },
      spin: { type: "boolean", default: false },
      "spin-us": { type: "string", default: "2000" },
      iterations: { type: "string", default: "5000" },
      "no-pin": { type: "boolean", default: false },
      timeout: { type: "string", default: "1500" },
      out: { type: "string", default: join(root, "bench/results") },
      "in-guest": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  const int = (name, min) => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < min) throw new RangeError(`--${name} must be an integer >= ${min}, got ${values[name]}`);
    return value;
  };
  return {
    help: values.help,
    inGuest: values["in-guest"],
    reps: int("reps", 1),
    warmupMs: int("warmup-ms", 0),
    measureMs: int("measure-ms", 100),
    spin: values.spin,
    spinMicros: int("spin-us", 1),
    iterations: int("iterations", 100),
    pin: !values["no-pin"],
    timeout: int("timeout", 60),
    out: values.out,
  };
}

// ------------------------------------------------------------------- host side ---

/** Boots the guest and runs this script inside with --in-guest; output passes through. */
function bootGuest(opts, argv) {
  return new Promise((resolve) => {
    // The package's own harness command, as users run it (docs/SOFTROCE.md).
    const cli = join(root, "bin/connect-rdma.js");
    const args = [cli, "softroce", "run", "--mode", "guest", "--timeout", String(opts.timeout), "--rw", opts.out, "--", process.execPath, fileURLToPath(import.meta.url), "--in-guest", ...argv];
    const child = spawn(process.execPath, args, { cwd: root, stdio: "inherit" });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 143 : 1)));
  });
}

// ------------------------------------------------------------------ guest side ---

/** The rows, in table order: [id, label, run(round, order)]. */
function rows(opts) {
  const rpc = (id) => ({ id, label: `${rpcDriverById(id).label}: Connect unary`, kind: "rpc" });
  const echo = (id) => ({ id, label: `${driverById(id).label}: raw channel echo`, kind: "echo" });
  return [
    rpc("ours-rdma-event"),
    ...(opts.spin ? [rpc("ours-rdma-spin")] : []),
    { id: "perftest-send-lat", label: "perftest ib_send_lat rxe1→rxe0, 2 × t_typical", kind: "perftest" },
    rpc("ours-uring-tcp-event"),
    ...(opts.spin ? [rpc("ours-uring-tcp-spin")] : []),
    echo("rdma-event"),
    echo("uring-tcp-event"),
    { id: TCP_FLOOR_ROWS.block, label: "C TCP ping-pong, blocking (floor of event mode)", kind: "tcp-floor", mode: "block" },
    { id: TCP_FLOOR_ROWS.spin, label: "C TCP ping-pong, busy-poll (floor of spin mode)", kind: "tcp-floor", mode: "spin" },
  ];
}

async function measure(row, { rep, order, opts, pinning }) {
  const workload = { payloadBytes: 64, inflight: 1 };
  const common = { workload, runNumber: order, warmupMs: opts.warmupMs, measureMs: opts.measureMs, pinning };
  let record;
  if (row.kind === "rpc") record = await runRpcOnce(rpcDriverById(row.id), common);
  else if (row.kind === "echo") record = await runOnce({ driver: driverById(row.id), ...common });
  else if (row.kind === "tcp-floor") record = await runTcpPingpong({ mode: row.mode, iterations: opts.iterations, pinning });
  else record = await runSendLat({ iterations: opts.iterations, bytes: 64, pinning });
  return Object.assign(record, { rep, order });
}

const FLOORS_LABEL = "perftest round trip ÷ C TCP ping-pong, busy-poll (the floors: < 1 = RDMA below TCP)";

/** One sentence on the floors' ratio: does RDMA (perftest) beat TCP (C, busy-poll) here? */
function floorsVerdict(floors) {
  if (floors.median == null) return "no round had both perftest and the C TCP busy-poll ping-pong: no verdict.";
  const where = `${floors.n} round${floors.n === 1 ? "" : "s"}, ${floors.min.toFixed(2)}–${floors.max.toFixed(2)}`;
  if (floors.max < 1) return `RDMA is below TCP at the floor in this guest: perftest's round trip is ${floors.median.toFixed(2)}× the C TCP busy-poll one (${where}).`;
  if (floors.min >= 1) return `RDMA is NOT below TCP at the floor in this guest: perftest's round trip is ${floors.median.toFixed(2)}× the C TCP busy-poll one (${where}).`;
  return `No clear floor winner in this guest: perftest's round trip is ${floors.median.toFixed(2)}× the C TCP busy-poll one, rounds on both sides of 1 (${where}).`;
}

async function inGuest(opts) {
  if (process.env.SOFTROCE !== "1") throw new Error("--in-guest runs inside the soft-RoCE guest (softroce run sets SOFTROCE=1)");
  process.env.BENCH_SPIN_MICROS = String(opts.spinMicros); // the RPC children read it (lib/rpc-ours.js)
  const startedAt = new Date().toISOString();
  const pinning = pinningPlan(opts.pin);
  const table = rows(opts);
  const runs = [];
  const total = opts.reps * table.length;
  process.stderr.write(`rdma-guest: ${table.length} rows × ${opts.reps} rounds; ${pinning.pinned ? `client CPU ${pinning.client}, server CPU ${pinning.server}` : `unpinned (${pinning.reason})`}\n`);
  for (let rep = 1; rep <= opts.reps; rep++) {
    for (let i = 0; i < table.length; i++) {
      const row = table[(i + rep - 1) % table.length];
      await waitForIdle({ maxMs: 1000 });
      const record = await measure(row, { rep, order: runs.length, opts, pinning });
      runs.push(record);
      const what = record.ok ? `p50 ${record.p50Us.toFixed(1)} µs` : `FAILED: ${String(record.error).split("\n")[0]}`;
      process.stderr.write(`rdma-guest [${runs.length}/${total}] round ${rep} ${row.id}: ${what}\n`);
    }
  }
  const summary = summarize(runs, table);
  const floors = pairedRatio(runs, "perftest-send-lat", TCP_FLOOR_ROWS.spin);
  const ratios = [
    { label: "ours RDMA Connect unary ÷ ours io_uring TCP Connect unary", target: TARGET_RATIO, ...pairedRatio(runs, "ours-rdma-event", "ours-uring-tcp-event") },
    ...(opts.spin ? [{ label: "ours RDMA Connect unary, spin ÷ ours io_uring TCP Connect unary, spin", target: TARGET_RATIO, ...pairedRatio(runs, "ours-rdma-spin", "ours-uring-tcp-spin") }] : []),
    ...(opts.spin ? [{ label: "ours RDMA Connect unary, spin ÷ perftest round trip", ...pairedRatio(runs, "ours-rdma-spin", "perftest-send-lat") }] : []),
    { label: "ours RDMA Connect unary ÷ perftest round trip", ...pairedRatio(runs, "ours-rdma-event", "perftest-send-lat") },
    { label: "ours RDMA raw channel echo ÷ perftest round trip", ...pairedRatio(runs, "rdma-event", "perftest-send-lat") },
    { label: "ours RDMA Connect unary ÷ ours RDMA raw channel echo", ...pairedRatio(runs, "ours-rdma-event", "rdma-event") },
    { label: "ours io_uring TCP raw channel echo ÷ C TCP ping-pong, blocking", ...pairedRatio(runs, "uring-tcp-event", TCP_FLOOR_ROWS.block) },
    { label: FLOORS_LABEL, ...floors },
  ];
  const machine = machineInfo();
  const stamp = startedAt.replace(/[:.]/g, "-");
  await mkdir(opts.out, { recursive: true });
  const jsonPath = join(opts.out, `rdma-guest-${stamp}.json`);
  const result = {
    benchmark: "connect-rdma in the soft-RoCE guest",
    startedAt,
    finishedAt: new Date().toISOString(),
    argv: process.argv.slice(2),
    machine,
    pinning,
    method: {
      reps: opts.reps,
      warmupMs: opts.warmupMs,
      measureMs: opts.measureMs,
      spinMicros: opts.spin ? opts.spinMicros : undefined,
      tcpFloor: `bench/c/tcp_pingpong.c (gcc -O2, compiled on the host): 64 B over TCP on 127.0.0.1, TCP_NODELAY, client and forked server pinned like the other rows, ${opts.iterations} round trips after ${Math.ceil(opts.iterations / 10)} unrecorded; block = blocking recv, spin = non-blocking recv busy-polled; percentiles of the sorted samples`,
      perftest: `ib_send_lat -x 1 -F -s 64 -n ${opts.iterations}, server -d rxe0, client -d rxe1 to ${process.env.SOFTROCE_IP0}; round trip = 2 x t_typical (one-way median)`,
      order: "interleaved rounds, row order rotated every round; every run a fresh server and client process",
      latency: "client-side, per call/frame, HDR histogram (bench/lib/rpc-load.js, bench/lib/load.js)",
    },
    summary,
    ratios,
    floors: { ratio: floors.median ?? null, verdict: floorsVerdict(floors) },
    runs,
  };
  await writeFile(jsonPath, `${JSON.stringify(result, null, 1)}\n`);
  const where = pinning.pinned ? `client on vCPU ${pinning.client}, server on vCPU ${pinning.server}` : `unpinned (${pinning.reason})`;
  console.log(`## RDMA in the soft-RoCE guest: 64 B round trips, 1 in flight\n`);
  console.log(`Guest: ${machine.cpuModel} × ${machine.cores} (QEMU TCG), Linux ${machine.kernelRelease}, Node ${machine.node}; ${where}; ${opts.reps} interleaved rounds × ${opts.measureMs} ms (+${opts.warmupMs} ms warm-up).\n`);
  console.log("Cells: median (min–max) over rounds.\n");
  console.log(resultsTable(summary));
  console.log(`\n${ratiosTable(ratios)}`);
  console.log(`\nFloors: ${floorsVerdict(floors)}`);
  const failures = summary.flatMap((row) => row.errors.map((error) => `- ${row.id}: ${String(error).split("\n")[0]}`));
  if (failures.length) console.log(`\nFailed runs:\n${failures.join("\n")}`);
  console.log(`\nJSON: ${jsonPath}`);
  return summary.some((row) => row.ok === 0) ? 1 : 0;
}

async function main() {
  const argv = process.argv.slice(2);
  const opts = options(argv);
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  if (opts.inGuest) return inGuest(opts);
  await mkdir(opts.out, { recursive: true });
  const binary = buildTcpPingpong();
  console.error(`rdma-guest: TCP floor ping-pong ${binary}`);
  const code = await bootGuest(opts, argv);
  if (code === 77) console.error("rdma-guest: this machine cannot run the soft-RoCE guest (see docs/SOFTROCE.md)");
  return code;
}

runMain(main, "rdma-guest benchmark");
