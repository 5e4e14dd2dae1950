// How long a fresh process takes to reach its steady unary latency: one RPC driver's
// server and client in separate processes, pinned as in bench/connect.js, the client
// making calls one at a time from its first call on, with no warm-up; prints p50, p99,
// p99.9 and max for each second since the first call (bench/README.md, "Warm-up").
//   node bench/warmup.js [--driver ID] [--seconds N] [--no-pin]   (after npm run build:ts)
// The client is this same script run as a child with --client ENDPOINT.
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { pinningPlan } from "./lib/cpu.js";
import { runChild, sendToParent } from "./lib/ipc.js";
import { Child } from "./lib/processes.js";
import { rpcDriverById, rpcImplementation, rpcListenAddress } from "./lib/rpc-drivers.js";

const STARTUP_TIMEOUT_MS = 30_000;
const SERVER_SCRIPT = fileURLToPath(new URL("./connect-server.js", import.meta.url));
const SELF = fileURLToPath(import.meta.url);

const { values } = parseArgs({
  options: {
    driver: { type: "string", default: "ours-uring-tcp-spin" },
    seconds: { type: "string", default: "10" },
    client: { type: "string" },
    "no-pin": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log("usage: node bench/warmup.js [--driver ID (default ours-uring-tcp-spin)] [--seconds N (default 10)] [--no-pin]");
  process.exit(0);
}
const driver = rpcDriverById(values.driver);
const seconds = Number(values.seconds);

/** Latency percentiles (µs) of one second's calls. */
function secondRow(second, latenciesMs) {
  latenciesMs.sort((a, b) => a - b);
  const at = (q) => Math.round(latenciesMs[Math.floor(q * (latenciesMs.length - 1))] * 1000);
  return { second, calls: latenciesMs.length, p50Us: at(0.5), p99Us: at(0.99), p999Us: at(0.999), maxUs: at(1) };
}

async function client(endpoint) {
  const { createCaller } = await rpcImplementation(driver);
  const caller = await createCaller(driver, endpoint, 64);
  const rows = [];
  const start = performance.now();
  let latencies = [];
  let seq = 0;
  while (rows.length < seconds) {
    const t0 = performance.now();
    await caller.call(seq++);
    const t1 = performance.now();
    latencies.push(t1 - t0);
    if (t1 - start >= (rows.length + 1) * 1000) {
      rows.push(secondRow(rows.length + 1, latencies));
      latencies = [];
    }
  }
  await caller.close();
  await sendToParent({ type: "result", rows });
}

async function parent() {
  const pinning = pinningPlan(!values["no-pin"]);
  const server = new Child(`${driver.id} server`, SERVER_SCRIPT, [driver.id, rpcListenAddress(driver, 0)], pinning.pinned ? pinning.server : undefined);
  try {
    const { endpoint } = await server.next("ready", STARTUP_TIMEOUT_MS);
    const args = ["--client", endpoint, "--driver", driver.id, "--seconds", String(seconds)];
    const caller = new Child(`${driver.id} client`, SELF, args, pinning.pinned ? pinning.client : undefined);
    const { rows } = await caller.next("result", STARTUP_TIMEOUT_MS + seconds * 2000);
    await caller.stop();
    console.log(`## Unary latency per second since the first call: ${driver.label}, 1 in flight, ${pinning.pinned ? "pinned" : `not pinned (${pinning.reason})`}\n`);
    console.log("| second | calls | p50 µs | p99 µs | p99.9 µs | max µs |\n|---|---|---|---|---|---|");
    for (const r of rows) console.log(`| ${r.second} | ${r.calls} | ${r.p50Us} | ${r.p99Us} | ${r.p999Us} | ${r.maxUs} |`);
  } finally {
    await server.stop();
  }
}

if (values.client !== undefined) runChild(() => client(values.client));
else await parent();
