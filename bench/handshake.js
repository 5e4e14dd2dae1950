// What `auth` costs (issue 17, docs/SECURITY.md), in one run: opening a connection
// (connect + handshake + one PING) with and without a pre-shared key, and unary p50 on an
// open connection with and without one. Rounds alternate which mode goes first, so the
// load of a shared box falls on both alike; ratios pair the two modes of each round.
// Server and clients share this process and one engine (tcp:// on 127.0.0.1, the engine
// "auto" picks). Prints a markdown table and one JSON summary (also written to --out).
//   node bench/handshake.js [--quick] [--rounds N] [--out DIR]
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createServer, createUringTransport, engineForUrl } from "connect-rdma";

import { BenchService } from "./gen/bench/v1/bench_pb.js";
import { num } from "./lib/format.js";
import { spread } from "./lib/runs.js";
import { benchServiceImpl } from "./lib/rpc-service.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const rounds = Number(option("--rounds", quick ? 3 : 7));
const outDir = option("--out", join(root, "bench/results"));
const CONNECTIONS = quick ? 50 : 200; // per mode and round
const CALLS = quick ? 2_000 : 10_000; // per mode and round
const WARMUP_CALLS = 500;

const secret = randomBytes(32);
const MODES = { plain: undefined, auth: { keyId: "bench", secret } };

const engine = engineForUrl("tcp://127.0.0.1:0", {});
const server = createServer({ engine, routes: (router) => router.service(BenchService, benchServiceImpl), auth: { keys: { bench: secret }, required: false } });
const url = await server.listen("tcp://127.0.0.1:0");

const median = (values) => spread(values).median;
const request = { payload: new Uint8Array(64), seq: 0n };

/** Milliseconds to open `CONNECTIONS` connections one after another (connect + handshake + PING each): their median. */
async function handshakeMs(auth) {
  const times = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const transport = createUringTransport({ url, engine, ...(auth ? { auth } : {}) });
    const start = performance.now();
    await transport.ping();
    times.push(performance.now() - start);
    await transport.close();
  }
  return median(times);
}

/** Unary p50 in µs over `CALLS` sequential calls on an open connection. */
async function unaryP50Us(client) {
  const times = new Float64Array(CALLS);
  for (let i = 0; i < CALLS; i++) {
    const start = performance.now();
    await client.echo(request);
    times[i] = (performance.now() - start) * 1000;
  }
  return median([...times]);
}

const clients = {};
const transports = [];
for (const [mode, auth] of Object.entries(MODES)) {
  const transport = createUringTransport({ url, engine, ...(auth ? { auth } : {}) });
  transports.push(transport);
  clients[mode] = createClient(BenchService, transport);
  for (let i = 0; i < WARMUP_CALLS; i++) await clients[mode].echo(request);
}

const perRound = [];
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? ["plain", "auth"] : ["auth", "plain"];
  const round = {};
  for (const mode of order) round[mode] = { handshakeMs: await handshakeMs(MODES[mode]), unaryP50Us: await unaryP50Us(clients[mode]) };
  perRound.push(round);
  process.stderr.write(`round ${r + 1}/${rounds}: ${JSON.stringify(round)}\n`);
}

for (const t of transports) await t.close();
await server.close();
await engine.close();

const metric = (mode, name) => spread(perRound.map((round) => round[mode][name]));
const ratio = (name) => spread(perRound.map((round) => round.auth[name] / round.plain[name]));
const summary = {
  engine: engine.name,
  rounds,
  connectionsPerRound: CONNECTIONS,
  callsPerRound: CALLS,
  plain: { handshakeMs: metric("plain", "handshakeMs"), unaryP50Us: metric("plain", "unaryP50Us") },
  auth: { handshakeMs: metric("auth", "handshakeMs"), unaryP50Us: metric("auth", "unaryP50Us") },
  ratio: { handshake: ratio("handshakeMs"), unaryP50: ratio("unaryP50Us") },
  perRound,
};

const row = (label, s, digits) => `${num(s.median, digits)} (${num(s.min, digits)}–${num(s.max, digits)})`;
console.log(`auth cost, tcp:// on ${engine.name}, ${rounds} rounds (median of round medians, min–max)\n`);
console.log("| | without auth | with auth | auth / without (paired by round) |");
console.log("|---|---|---|---|");
console.log(`| connection: connect + handshake + PING, ms | ${row("", summary.plain.handshakeMs, 3)} | ${row("", summary.auth.handshakeMs, 3)} | ${row("", summary.ratio.handshake, 2)} |`);
console.log(`| unary p50, µs (64 B, 1 in flight) | ${row("", summary.plain.unaryP50Us, 1)} | ${row("", summary.auth.unaryP50Us, 1)} | ${row("", summary.ratio.unaryP50, 2)} |`);
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `handshake-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(file, JSON.stringify(summary, null, 2));
console.log(`\n${JSON.stringify({ ...summary, perRound: undefined, file })}`);
