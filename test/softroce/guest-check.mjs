// Runs inside the soft-RoCE guest (softroce.test.ts boots it once; by hand:
// npx connect-rdma softroce run --mode guest -- node test/softroce/guest-check.mjs). Checks that
// capabilities() sees rxe0 and rxe1 with an ACTIVE port and that io_uring works in the
// guest kernel, then measures perftest ib_send_lat from rxe1 (10.77.0.2) to rxe0
// (10.77.0.1). Prints a summary and one `SOFTROCE_CHECK {json}` line; exit 1 on failure.
//
// perftest runs by GID (-x 1, the IPv4-mapped GID), not -R: Debian 12's perftest
// (4.5-0.17) parses --source_ip as the raw-Ethernet option, so an -R client cannot bind
// 10.77.0.2 and silently loops back on rxe0 (linux-rdma/perftest#210). The rxe1 packet
// counter proves the traffic really crossed the veth pair.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const failures = [];
const check = (ok, message) => {
  if (!ok) failures.push(message);
  return ok;
};
const uptime = () => Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
const result = { kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(), failures, uptimeAtStart: uptime() };
// Whatever goes wrong, the host gets a report (and the reason) rather than a bare crash.
process.on("exit", () => {
  for (const failure of failures) console.error(`FAIL ${failure}`);
  console.log(`SOFTROCE_CHECK ${JSON.stringify(result)}`);
});
process.on("uncaughtException", (error) => {
  failures.push(`guest-check crashed: ${error.stack ?? error}`);
  process.exitCode = 1;
});

// ----------------------------------------------------------------- capabilities() ---
const { capabilities } = await import("../../dist/capabilities.js");
const caps = capabilities();
result.devices = caps.rdma.devices;
result.rdmaAvailable = caps.rdma.available;
result.ioUringAvailable = caps.ioUring.available;
for (const device of caps.rdma.devices) {
  const ports = device.ports.map(
    (p) => `port ${p.port} ${p.state} ${p.linkLayer} mtu ${p.activeMtu} gids ${p.gidCount ?? "?"}/${p.gidTableLength}`,
  );
  console.log(`device ${device.name}: ${ports.join(", ")}${device.error ? ` (${device.error})` : ""}`);
}
console.log(`rdma.available=${caps.rdma.available} ioUring.available=${caps.ioUring.available}`);
check(caps.addon.loaded, `addon not loaded: ${caps.addon.reason}`);
check(caps.rdma.available, `rdma unavailable: ${caps.rdma.reason}`);
check(caps.ioUring.available, `io_uring unavailable in the guest: ${caps.ioUring.reason}`);
for (const name of [process.env.SOFTROCE_DEV0 ?? "rxe0", process.env.SOFTROCE_DEV1 ?? "rxe1"]) {
  const device = caps.rdma.devices.find((d) => d.name === name);
  if (!check(device !== undefined, `${name} not listed`)) continue;
  const active = device.ports.find((p) => p.state === "ACTIVE");
  if (!check(active !== undefined, `${name} has no ACTIVE port`)) continue;
  check(active.linkLayer === "Ethernet", `${name}: link layer ${active.linkLayer}, expected Ethernet`);
  check(active.activeMtu >= 256, `${name}: active MTU ${active.activeMtu}`);
  check(active.gidCount === undefined || active.gidCount >= 1, `${name}: no valid GID`);
}

// ------------------------------------------------------------------- ib_send_lat ---
const sentPackets = (device) =>
  Number(readFileSync(`/sys/class/infiniband/${device}/ports/1/hw_counters/sent_pkts`, "utf8"));

async function sendLatency() {
  const common = ["-x", "1", "-F", "-n", "1000", "-s", "64"];
  // Line-buffered, so its "Waiting for client to connect" banner arrives when printed.
  const server = spawn("stdbuf", ["-oL", "ib_send_lat", "-d", "rxe0", ...common], { stdio: ["ignore", "pipe", "pipe"] });
  const serverExit = new Promise((resolve) => server.on("exit", (code) => resolve(code)));
  const killTimer = setTimeout(() => server.kill("SIGKILL"), 90_000);
  try {
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 20_000);
      server.stdout.on("data", (chunk) => {
        if (/Waiting for client/.test(chunk.toString())) resolve(clearTimeout(timer));
      });
      server.on("exit", () => resolve(clearTimeout(timer)));
    });
    // The banner comes just before listen(): retry the client for that short window.
    for (let attempt = 0; attempt < 40; attempt++) {
      const client = spawnSync("ib_send_lat", ["-d", "rxe1", ...common, process.env.SOFTROCE_IP0 ?? "10.77.0.1"], {
        encoding: "utf8",
        timeout: 60_000,
      });
      if (client.status === 0) return { output: client.stdout, serverCode: await serverExit };
      if (!/Couldn't connect|Unable to open file descriptor/.test(client.stdout + client.stderr)) {
        return { output: client.stdout + client.stderr, error: `ib_send_lat client exited ${client.status ?? client.signal}` };
      }
      await sleep(250);
    }
    return { output: "", error: "ib_send_lat server never accepted a connection" };
  } finally {
    clearTimeout(killTimer);
    if (server.exitCode === null) server.kill("SIGKILL");
  }
}

result.capabilitiesSeconds = Number((uptime() - result.uptimeAtStart).toFixed(2));
const rxe1Before = sentPackets("rxe1");
const lat = await sendLatency();
const rxe1Sent = sentPackets("rxe1") - rxe1Before;
result.rxe1SentPackets = rxe1Sent;
result.sendLatSeconds = Number((uptime() - result.uptimeAtStart - result.capabilitiesSeconds).toFixed(2));
// " #bytes #iterations t_min t_max t_typical t_avg t_stdev 99% 99.9%" (µs, one-way)
const row = /^\s*64\s+1000\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)/m.exec(lat.output);
if (check(lat.error === undefined && row !== null, `ib_send_lat: ${lat.error ?? "no latency line"}\n${lat.output}`)) {
  const [min, max, typical, avg, , p99, p999] = row.slice(1).map(Number);
  result.sendLat = { bytes: 64, iterations: 1000, minUs: min, p50Us: typical, avgUs: avg, p99Us: p99, p999Us: p999, maxUs: max };
  console.log(`ib_send_lat rxe1 -> rxe0, 64 B: p50 ${typical} us, p99 ${p99} us (one-way), rxe1 sent ${rxe1Sent} packets`);
  check(lat.serverCode === 0, `ib_send_lat server exited ${lat.serverCode}`);
  check(rxe1Sent >= 1000, `rxe1 sent ${rxe1Sent} packets: the test did not cross rxe1 -> rxe0`);
}

process.exitCode = failures.length === 0 ? 0 : 1;
