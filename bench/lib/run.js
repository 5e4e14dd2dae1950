// One benchmark run: a fresh server child and a fresh client child for one driver and
// one workload, CPU snapshots around the measured window, and the run's record
// (percentiles, RTT/s, CPU per round trip, foreign load, transport counters).
import { unlink } from "node:fs/promises";

import hdr from "hdr-histogram-js";

import { cpuBetween, snapshot } from "./cpu.js";
import { listenAddress } from "./drivers.js";
import { Child } from "./processes.js";

const SERVER_SCRIPT = new URL("../echo-server.js", import.meta.url).pathname;
const CLIENT_SCRIPT = new URL("../echo-client.js", import.meta.url).pathname;

const STARTUP_TIMEOUT_MS = 15_000;

/**
 * Command prefix for a child from BENCH_WRAP_SERVER / BENCH_WRAP_CLIENT (for profilers:
 * `perf record -g -o /tmp/{driver}-{run}.data --`), placeholders filled in.
 */
function wrapper(variable, driver, runNumber) {
  const text = process.env[variable]?.trim();
  if (!text) return [];
  return text.split(/\s+/).map((word) => word.replaceAll("{driver}", driver.id).replaceAll("{run}", String(runNumber)));
}

/** Percentiles (µs) and counts of a histogram of nanoseconds. */
export function latencySummary(histogram) {
  const us = (p) => histogram.getValueAtPercentile(p) / 1000;
  return {
    p50Us: us(50),
    p90Us: us(90),
    p99Us: us(99),
    p999Us: us(99.9),
    maxUs: histogram.maxValue / 1000,
    meanUs: histogram.mean / 1000,
  };
}

/**
 * Runs `driver` under `workload` once; `runNumber` keeps addresses unique. Never throws:
 * a failure is a record with ok: false and the error.
 */
export async function runOnce({ driver, workload, runNumber, warmupMs, measureMs, pinning }) {
  const address = listenAddress(driver, runNumber);
  const record = { driver: driver.id, ...workload, ok: false };
  let server;
  let client;
  try {
    const serverCpu = pinning.pinned ? pinning.server : undefined;
    server = new Child(`${driver.id} server`, SERVER_SCRIPT, [driver.id, address], serverCpu, wrapper("BENCH_WRAP_SERVER", driver, runNumber));
    const ready = await server.next("ready", STARTUP_TIMEOUT_MS);
    const config = { driver: driver.id, endpoint: ready.endpoint, ...workload, warmupMs, measureMs };
    const clientCpu = pinning.pinned ? pinning.client : undefined;
    client = new Child(`${driver.id} client`, CLIENT_SCRIPT, [JSON.stringify(config)], clientCpu, wrapper("BENCH_WRAP_CLIENT", driver, runNumber));
    await client.next("measuring", STARTUP_TIMEOUT_MS + warmupMs);
    const pids = { client: client.pid, server: server.pid, parent: process.pid };
    const before = snapshot(pids);
    const result = await client.next("result", STARTUP_TIMEOUT_MS + 4 * measureMs);
    const after = snapshot(pids);
    server.send({ type: "stop" });
    const stopped = await server.next("stopped", STARTUP_TIMEOUT_MS);
    await Promise.all([client.finish(5000), server.finish(5000)]);

    const histogram = hdr.decodeFromCompressedBase64(result.histogram);
    const cpu = cpuBetween(before, after);
    const perRtt = (ms) => (result.windowReplies > 0 ? (ms * 1000) / result.windowReplies : null);
    Object.assign(record, {
      ok: true,
      ...latencySummary(histogram),
      recorded: result.recorded,
      rttPerSec: result.rttPerSec,
      cpu: {
        clientMs: cpu.ms.client,
        serverMs: cpu.ms.server,
        parentMs: cpu.ms.parent,
        clientUsPerRtt: perRtt(cpu.ms.client),
        serverUsPerRtt: perRtt(cpu.ms.server),
        wallMs: cpu.wallMs,
      },
      foreignPct: cpu.foreignPct,
      stealPct: cpu.stealPct,
      engine: { client: result.engine, server: ready.engine },
      stats: { client: result.stats, server: stopped.stats },
      histogram: result.histogram,
    });
  } catch (error) {
    record.error = error.message;
  } finally {
    await Promise.all([client?.stop(), server?.stop()]);
    if (address.startsWith("/")) await unlink(address).catch(() => undefined);
  }
  return record;
}
