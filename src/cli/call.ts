// `connect-rdma call URL`: the client half of the two-host echo check. Asks the server
// who it is (Info), runs --warmup unmeasured echoes, then --count measured ones with
// --concurrency in flight, checks every reply byte for byte, and prints round-trip
// percentiles, calls/s and the transport's stats(). Exit 1 when any call failed or came
// back different.
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

import { ConnectError, createClient, type Client } from "@connectrpc/connect";

import { createRdmaTransport, createUringTransport, type RpcStats, type UringTransport } from "../index.js";
import { ENGINE_CHOICES, EchoService } from "./echo-service.js";
import { UsageError, bytes, choiceOption, columns, integerOption, micros, percentile } from "./format.js";

export const CALL_HELP = `usage: connect-rdma call URL [options]

Calls the echo service of \`connect-rdma serve\` and prints round-trip latencies.
Every reply is checked byte for byte; exit 1 if any call failed or differed.

  URL                      where serve listens: tcp://host:port, unix:///path, rdma://ip:port
  --count N                measured calls (default 1000)
  --warmup N               calls before measuring, not recorded (default 100)
  --size BYTES             payload bytes per call (default 64)
  --concurrency N          calls in flight (default 1)
  --timeout-ms MS          deadline of each call (default 5000)
  --engine auto|uring|net  engine for tcp:// and unix:// (default auto)
  --poll event|spin        completion polling (default event)
  --local IP               rdma:// only: source address, selects the local RDMA device
  --json                   print the result as JSON
  --help                   this text`;

/** What a call run measured (--json prints this). */
export interface CallResult {
  url: string;
  server: { hostname: string; pid: number; version: string; engine: string; engineReason: string; nodeVersion: string; kernel: string };
  count: number;
  size: number;
  concurrency: number;
  ok: number;
  failed: number;
  mismatched: number;
  /** First few failures, as "code: message". */
  errors: string[];
  /** Round trip of each measured call, in microseconds. */
  latencyUs: { min: number; p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  callsPerSecond: number;
  stats: RpcStats;
}

function payloadFor(seq: number, size: number): Uint8Array {
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (seq * 31 + i) & 0xff;
  return payload;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Tally {
  ok: number;
  failed: number;
  mismatched: number;
  errors: string[];
}

async function echoOnce(client: Client<typeof EchoService>, seq: number, size: number, timeoutMs: number, tally: Tally): Promise<number | undefined> {
  const payload = payloadFor(seq, size);
  const started = performance.now();
  try {
    const reply = await client.echo({ payload, seq: BigInt(seq) }, { timeoutMs });
    const elapsed = performance.now() - started;
    if (reply.seq !== BigInt(seq) || !sameBytes(reply.payload, payload)) {
      tally.mismatched++;
      if (tally.errors.length < 5) tally.errors.push(`call ${seq}: reply differs from the request (seq ${reply.seq}, ${reply.payload.byteLength} B)`);
      return undefined;
    }
    tally.ok++;
    return elapsed * 1000;
  } catch (error) {
    tally.failed++;
    const e = ConnectError.from(error);
    if (tally.errors.length < 5) tally.errors.push(`call ${seq}: ${e.message}`);
    return undefined;
  }
}

/** Runs `total` calls with `concurrency` workers; latencies (µs) of the successful ones. */
async function run(client: Client<typeof EchoService>, first: number, total: number, concurrency: number, size: number, timeoutMs: number, tally: Tally): Promise<number[]> {
  const latencies: number[] = [];
  let next = first;
  const end = first + total;
  const worker = async (): Promise<void> => {
    while (next < end) {
      const seq = next++;
      const us = await echoOnce(client, seq, size, timeoutMs, tally);
      if (us !== undefined) latencies.push(us);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(total, 1)) }, worker));
  return latencies;
}

function render(result: CallResult): string {
  const s = result.server;
  const l = result.latencyUs;
  const lines = [
    `server: ${s.hostname} pid ${s.pid}, connect-rdma ${s.version}, engine ${s.engine}${s.engineReason ? ` (${s.engineReason})` : ""}, Node ${s.nodeVersion}, Linux ${s.kernel}`,
    `${result.count} call(s) of ${bytes(result.size)}, ${result.concurrency} in flight: ${result.ok} ok, ${result.failed} failed, ${result.mismatched} mismatched`,
  ];
  if (result.ok > 0) {
    lines.push(
      "round trip:",
      columns([
        ["min", "p50", "p90", "p99", "p99.9", "max", "mean"],
        [l.min, l.p50, l.p90, l.p99, l.p999, l.max, l.mean].map(micros),
      ]),
      `throughput: ${Math.round(result.callsPerSecond)} calls/s`,
    );
  }
  const st = result.stats;
  lines.push(
    `transport: ${st.callsStarted} calls, ${st.messagesOut} messages out / ${st.messagesIn} in, wire ${bytes(st.wireBytesOut)} out / ${bytes(st.wireBytesIn)} in, ` +
      `copies ${st.copies} (${bytes(st.copiedBytes)}), reassembled frames ${st.reassembled}`,
  );
  for (const error of result.errors) lines.push(`error: ${error}`);
  return lines.join("\n");
}

/** Resolves with the exit code. */
export async function callCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        count: { type: "string" },
        warmup: { type: "string" },
        size: { type: "string" },
        concurrency: { type: "string" },
        "timeout-ms": { type: "string" },
        engine: { type: "string" },
        poll: { type: "string" },
        local: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, CALL_HELP);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(CALL_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("call needs exactly one URL", CALL_HELP);
  const url = positionals[0]!;
  const count = integerOption("--count", values.count, 1000, CALL_HELP, 1);
  const warmup = integerOption("--warmup", values.warmup, 100, CALL_HELP);
  const size = integerOption("--size", values.size, 64, CALL_HELP);
  const concurrency = integerOption("--concurrency", values.concurrency, 1, CALL_HELP, 1);
  const timeoutMs = integerOption("--timeout-ms", values["timeout-ms"], 5000, CALL_HELP, 1);
  const engine = choiceOption("--engine", values.engine, ENGINE_CHOICES, "auto", CALL_HELP);
  const poll = choiceOption("--poll", values.poll, ["event", "spin"] as const, "event", CALL_HELP);
  const rdma = url.startsWith("rdma://");
  if (values.local !== undefined && !rdma) throw new UsageError("--local applies to rdma:// URLs only", CALL_HELP);

  const transport: UringTransport = rdma
    ? createRdmaTransport({ url, poll, ...(values.local !== undefined ? { localAddress: values.local } : {}) })
    : createUringTransport({ url, engine, poll });
  try {
    const client = createClient(EchoService, transport);
    const info = await client.info({}, { timeoutMs: Math.max(timeoutMs, 10_000) });
    const tally: Tally = { ok: 0, failed: 0, mismatched: 0, errors: [] };
    await run(client, 0, warmup, concurrency, size, timeoutMs, tally);
    const measured: Tally = { ok: 0, failed: 0, mismatched: 0, errors: [] };
    const started = performance.now();
    const latencies = await run(client, warmup, count, concurrency, size, timeoutMs, measured);
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const mean = latencies.length > 0 ? latencies.reduce((a, b) => a + b, 0) / latencies.length : NaN;
    const result: CallResult = {
      url,
      server: {
        hostname: info.hostname,
        pid: info.pid,
        version: info.version,
        engine: info.engine,
        engineReason: info.engineReason,
        nodeVersion: info.nodeVersion,
        kernel: info.kernel,
      },
      count,
      size,
      concurrency,
      ok: measured.ok,
      failed: measured.failed + tally.failed,
      mismatched: measured.mismatched + tally.mismatched,
      errors: [...tally.errors, ...measured.errors].slice(0, 5),
      latencyUs: {
        min: latencies[0] ?? NaN,
        p50: percentile(latencies, 50),
        p90: percentile(latencies, 90),
        p99: percentile(latencies, 99),
        p999: percentile(latencies, 99.9),
        max: latencies[latencies.length - 1] ?? NaN,
        mean,
      },
      callsPerSecond: seconds > 0 ? measured.ok / seconds : 0,
      stats: transport.stats(),
    };
    console.log(values.json ? JSON.stringify(result, null, 2) : render(result));
    return result.failed === 0 && result.mismatched === 0 ? 0 : 1;
  } finally {
    await transport.close();
  }
}
