// The cost of TLS on tcp:// (issue 17, docs/SECURITY.md "Costs"), in one run and one
// process (server and client share the event loop: figures are for comparing the rows,
// not absolute): per connection, the time to connect and finish the first call; unary
// p50/p99 of 64 B echoes; and a 64 KiB server stream's throughput. Rows: plaintext on the
// node:net engine, TLS on the node:net engine over a TLSSocket, TLS on io_uring with
// kernel TLS where the kernel offers it (capabilities().tls.path "ktls": the soft-RoCE
// guest), and plaintext on io_uring where this process has it. Rounds are interleaved, each row
// reported as median (min–max) over rounds. Prints a markdown table and the JSON summary,
// and writes it to --out (default bench/results/tls-<timestamp>.json).
//   node bench/tls.js [--quick] [--rounds N] [--out DIR]
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { capabilities, createServer, createUringTransport } from "connect-rdma";

import { BenchService } from "./gen/bench/v1/bench_pb.js";
import { cell, latencyDigits } from "./lib/format.js";
import { spread } from "./lib/runs.js";
import { benchServiceImpl } from "./lib/rpc-service.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const rounds = args.includes("--rounds") ? Number(args[args.indexOf("--rounds") + 1]) : quick ? 2 : 5;
const outDir = args.includes("--out") ? args[args.indexOf("--out") + 1] : join(root, "bench/results");
const CONNECTIONS = quick ? 10 : 40;
const UNARY_CALLS = quick ? 2000 : 10_000;
const STREAM_MESSAGES = quick ? 500 : 2000;
const STREAM_BYTES = 64 * 1024;

/** A self-signed certificate for 127.0.0.1, made now (nothing secret in the repository). */
function selfSigned() {
  const dir = mkdtempSync(join(tmpdir(), "connect-rdma-bench-tls-"));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"], { cwd: dir, stdio: "pipe" });
    return { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pem = selfSigned();
const caps = capabilities();
const ROWS = [
  { id: "plaintext-net", engine: "net" },
  { id: "tls-tlssocket", engine: "net", tls: true },
  ...(caps.tls.path === "ktls" ? [{ id: "tls-ktls", engine: "uring", tls: true }] : []),
  ...(caps.ioUring.available ? [{ id: "plaintext-uring", engine: "uring" }] : []),
];

function transportOf(row, url) {
  return createUringTransport({ url, engine: row.engine, ...(row.tls ? { tls: { ca: pem.cert } } : {}) });
}

/** One round of one row: handshake ms per connection, unary latencies (µs), stream MiB/s. */
async function measure(row) {
  const server = createServer({ routes: (router) => router.service(BenchService, benchServiceImpl), engine: row.engine, ...(row.tls ? { tls: pem } : {}) });
  const url = await server.listen("tcp://127.0.0.1:0");
  try {
    const handshakeMs = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const start = performance.now();
      const transport = transportOf(row, url);
      await createClient(BenchService, transport).echo({ payload: new Uint8Array(64) });
      handshakeMs.push(performance.now() - start);
      await transport.close();
    }
    const transport = transportOf(row, url);
    const client = createClient(BenchService, transport);
    const payload = new Uint8Array(64).fill(0x61);
    for (let i = 0; i < 200; i++) await client.echo({ payload });
    const unaryUs = [];
    for (let i = 0; i < UNARY_CALLS; i++) {
      const start = performance.now();
      await client.echo({ payload });
      unaryUs.push((performance.now() - start) * 1000);
    }
    unaryUs.sort((a, b) => a - b);
    const start = performance.now();
    let bytes = 0;
    for await (const message of client.stream({ payloadBytes: STREAM_BYTES, count: BigInt(STREAM_MESSAGES) })) bytes += message.payload.byteLength;
    const streamMiBps = bytes / (1024 * 1024) / ((performance.now() - start) / 1000);
    await transport.close();
    return { handshakeMs: spread(handshakeMs).median, p50Us: unaryUs[Math.floor(unaryUs.length / 2)], p99Us: unaryUs[Math.floor(unaryUs.length * 0.99)], streamMiBps };
  } finally {
    await server.close(0);
  }
}

const runs = Object.fromEntries(ROWS.map((row) => [row.id, []]));
for (let round = 0; round < rounds; round++) {
  // Rotate the order so no row always runs first (warmest or coldest).
  for (let k = 0; k < ROWS.length; k++) {
    const row = ROWS[(round + k) % ROWS.length];
    runs[row.id].push(await measure(row));
    process.stderr.write(".");
  }
}
process.stderr.write("\n");

const summary = ROWS.map((row) => {
  const of = (name) => spread(runs[row.id].map((r) => r[name]));
  return { key: row.id, runs: runs[row.id].length, handshakeMs: of("handshakeMs"), p50Us: of("p50Us"), p99Us: of("p99Us"), streamMiBps: of("streamMiBps") };
});
const result = {
  benchmark: "tls",
  startedAt: new Date().toISOString(),
  tlsPath: caps.tls,
  settings: { rounds, connections: CONNECTIONS, unaryCalls: UNARY_CALLS, unaryPayloadBytes: 64, streamMessages: STREAM_MESSAGES, streamMessageBytes: STREAM_BYTES, process: "one (server and client share it)" },
  summary,
};

console.log(`TLS on tcp:// here: ${caps.tls.reason}\n`);
console.log("| row | connect + first call (ms) | unary p50 (µs) | unary p99 (µs) | 64 KiB stream (MiB/s) |");
console.log("|---|---|---|---|---|");
for (const s of summary) {
  console.log(`| ${s.key} | ${cell(s.handshakeMs, 2)} | ${cell(s.p50Us, latencyDigits(s.p50Us))} | ${cell(s.p99Us, latencyDigits(s.p99Us))} | ${cell(s.streamMiBps, 0)} |`);
}
console.log(`\nmedian (min–max) over ${rounds} interleaved rounds, one process\n`);
console.log(JSON.stringify(result, null, 2));
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, `tls-${result.startedAt.replace(/[:.]/g, "-")}.json`), JSON.stringify(result, null, 2));
