// perftest's ib_send_lat between the soft-RoCE guest's two devices, as the yardstick of
// the RDMA benchmark (bench/rdma-guest.js): server on rxe0, client on rxe1, addressed by
// GID (-x 1, the IPv4-mapped GID; not -R, whose client cannot bind rxe1 with Debian 12's
// perftest 4.5: docs/SOFTROCE.md), 64 B, each side pinned like our runs. ib_send_lat
// reports one-way latency (half a ping-pong); the round trip is twice that.
import { spawn } from "node:child_process";

import { SOFTROCE_IP0 } from "./softroce-addresses.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function start(args, cpu) {
  const argv = cpu === undefined ? args : ["taskset", "-c", String(cpu), ...args];
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (text) => (output += text));
  child.stderr.setEncoding("utf8").on("data", (text) => (output += text));
  const exit = new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal)));
  return { child, exit, output: () => output };
}

/**
 * One ib_send_lat run of `iterations` 64 B ping-pongs. Never throws: a failure is a
 * record with ok: false and the error (and perftest's output).
 */
export async function runSendLat({ iterations = 5000, bytes = 64, pinning }) {
  const common = ["-x", "1", "-F", "-n", String(iterations), "-s", String(bytes)];
  const record = { driver: "perftest-send-lat", payloadBytes: bytes, iterations, ok: false };
  // Line-buffered, so the "Waiting for client" banner arrives when printed.
  const server = start(["stdbuf", "-oL", "ib_send_lat", "-d", "rxe0", ...common], pinning.pinned ? pinning.server : undefined);
  const killTimer = setTimeout(() => server.child.kill("SIGKILL"), 120_000);
  try {
    for (let waited = 0; !/Waiting for client/.test(server.output()) && waited < 20_000; waited += 50) await sleep(50);
    // The banner comes just before listen(): retry the client for that short window.
    for (let attempt = 0; attempt < 40; attempt++) {
      const client = start(["ib_send_lat", "-d", "rxe1", ...common, SOFTROCE_IP0], pinning.pinned ? pinning.client : undefined);
      const code = await client.exit;
      const output = client.output();
      if (code === 0) {
        // " #bytes #iterations t_min t_max t_typical t_avg t_stdev 99% 99.9%" (µs, one-way)
        const row = new RegExp(`^\\s*${bytes}\\s+${iterations}\\s+${"([\\d.]+)\\s+".repeat(6)}([\\d.]+)`, "m").exec(output);
        if (!row) return Object.assign(record, { error: "no latency line", output });
        const [min, max, typical, avg, stdev, p99, p999] = row.slice(1).map(Number);
        await server.exit;
        return Object.assign(record, {
          ok: true,
          oneWay: { minUs: min, p50Us: typical, avgUs: avg, stdevUs: stdev, p99Us: p99, p999Us: p999, maxUs: max },
          // The round trip our RPC rows measure: two one-way latencies.
          p50Us: 2 * typical,
          p99Us: 2 * p99,
        });
      }
      if (!/Couldn't connect|Unable to open file descriptor/.test(output)) {
        return Object.assign(record, { error: `ib_send_lat client exited ${code}`, output });
      }
      await sleep(250);
    }
    return Object.assign(record, { error: "ib_send_lat server never accepted a connection", output: server.output() });
  } finally {
    clearTimeout(killTimer);
    if (server.child.exitCode === null) server.child.kill("SIGKILL");
  }
}
