// One Connect benchmark run: a fresh server child and a fresh client child for one RPC
// driver and one workload (or, for the channel-echo driver, one run of the echo
// benchmark's own children through lib/run.js), CPU snapshots around the measured
// window, and a record in one shape for every driver: unary runs carry latency and
// calls/s, stream runs (workload.rpc "stream") messages/s, payload MB/s and copies per
// message; both carry CPU per call or message.
import { unlink } from "node:fs/promises";

import hdr from "hdr-histogram-js";

import { cpuBetween, snapshot } from "./cpu.js";
import { driverById } from "./drivers.js";
import { Child } from "./processes.js";
import { rpcListenAddress } from "./rpc-drivers.js";
import { latencySummary, runOnce } from "./run.js";

const SERVER_SCRIPT = new URL("../connect-server.js", import.meta.url).pathname;
const CLIENT_SCRIPT = new URL("../connect-client.js", import.meta.url).pathname;
const STARTUP_TIMEOUT_MS = 15_000;

/** The echo benchmark's record, renamed into this benchmark's shape. */
async function channelEchoRun(driver, { workload, runNumber, warmupMs, measureMs, pinning }) {
  const echo = await runOnce({ driver: driverById(driver.echoDriver), workload, runNumber, warmupMs, measureMs, pinning });
  const { rttPerSec, cpu, driver: _echoDriver, ...rest } = echo;
  return {
    ...rest,
    driver: driver.id,
    ...(echo.ok
      ? {
          callsPerSec: rttPerSec,
          cpu: { clientMs: cpu.clientMs, serverMs: cpu.serverMs, clientUsPerCall: cpu.clientUsPerRtt, serverUsPerCall: cpu.serverUsPerRtt, wallMs: cpu.wallMs },
        }
      : {}),
  };
}

/** CPU (ms in the window) per unit of work, in µs. */
function cpuPer(cpu, units, unit) {
  const per = (ms) => (units > 0 ? (ms * 1000) / units : null);
  return { clientMs: cpu.ms.client, serverMs: cpu.ms.server, [`clientUsPer${unit}`]: per(cpu.ms.client), [`serverUsPer${unit}`]: per(cpu.ms.server), wallMs: cpu.wallMs };
}

function unaryRecord(result, cpu) {
  return {
    ...latencySummary(hdr.decodeFromCompressedBase64(result.histogram)),
    recorded: result.recorded,
    callsPerSec: result.callsPerSec,
    cpu: cpuPer(cpu, result.windowCalls, "Call"),
    histogram: result.histogram,
  };
}

/**
 * Copies per message from our stats(): the client's counted inside the window, the
 * server's over its whole life (it reports once, at stop). Null for stacks without
 * counters.
 */
function streamRecord(result, cpu, serverStats) {
  const ratio = (a, b) => (Number.isFinite(a) && b > 0 ? a / b : null);
  return {
    windowMs: result.windowMs,
    windowMessages: result.windowMessages,
    windowBytes: result.windowBytes,
    messagesPerSec: result.messagesPerSec,
    mbPerSec: result.bytesPerSec / 1e6,
    // The parent's CPU window starts when "measuring" arrives, which a saturated client
    // may delay: count the messages of the parent's window at the client's rate.
    cpu: cpuPer(cpu, (result.messagesPerSec * cpu.wallMs) / 1000, "Msg"),
    copiesPerMsg: {
      client: ratio(result.statsWindow.copies, result.statsWindow.messagesIn),
      server: ratio(serverStats?.copies, serverStats?.messagesOut),
    },
    wireBytesPerMsg: ratio(result.statsWindow.wireBytesIn, result.statsWindow.messagesIn),
    statsWindow: { client: result.statsWindow },
  };
}

/**
 * Runs `driver` under `workload` once; `runNumber` keeps addresses unique. Never throws:
 * a failure is a record with ok: false and the error.
 */
export async function runRpcOnce(driver, { workload, runNumber, warmupMs, measureMs, pinning }) {
  if (driver.kind === "channel-echo") return channelEchoRun(driver, { workload, runNumber, warmupMs, measureMs, pinning });
  const address = rpcListenAddress(driver, runNumber);
  const record = { driver: driver.id, ...workload, ok: false };
  let server;
  let client;
  try {
    server = new Child(`${driver.id} server`, SERVER_SCRIPT, [driver.id, address], pinning.pinned ? pinning.server : undefined);
    const ready = await server.next("ready", STARTUP_TIMEOUT_MS);
    const config = { driver: driver.id, endpoint: ready.endpoint, ...workload, warmupMs, measureMs };
    client = new Child(`${driver.id} client`, CLIENT_SCRIPT, [JSON.stringify(config)], pinning.pinned ? pinning.client : undefined);
    await client.next("measuring", STARTUP_TIMEOUT_MS + warmupMs);
    const pids = { client: client.pid, server: server.pid, parent: process.pid };
    const before = snapshot(pids);
    await client.next("measured", STARTUP_TIMEOUT_MS + 4 * measureMs);
    const after = snapshot(pids);
    const result = await client.next("result", STARTUP_TIMEOUT_MS);
    server.send({ type: "stop" });
    const stopped = await server.next("stopped", STARTUP_TIMEOUT_MS);
    await Promise.all([client.finish(5000), server.finish(5000)]);

    const cpu = cpuBetween(before, after);
    const common = {
      foreignPct: cpu.foreignPct,
      stealPct: cpu.stealPct,
      engine: { client: result.engine, server: ready.engine },
      stats: { client: result.stats, server: stopped.stats },
    };
    Object.assign(record, { ok: true, ...(workload.rpc === "stream" ? streamRecord(result, cpu, stopped.stats) : unaryRecord(result, cpu)), ...common });
  } catch (error) {
    record.error = error.message;
  } finally {
    await Promise.all([client?.stop(), server?.stop()]);
    if (address.startsWith("/")) await unlink(address).catch(() => undefined);
  }
  return record;
}
