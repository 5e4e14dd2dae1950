// npm run soak: mixed load with faults injected, for minutes (not in CI). Owns the soak
// loop only: servers are test/fixtures/hostile-server.js processes (one per channel), the
// load runs here, faults come from here or from extra child processes.
//   node scripts/soak.mjs [--minutes 10] [--channels uring-tcp,net-tcp] [--rss-growth-mb 100]
//                         [--report-seconds 10] [--faults kill-client,malformed,...]
// Load: unary calls, server streams, client streams and bidi streams in parallel loops,
// some cancelled, some with short deadlines. Faults (one every ~2 s, at random):
//   kill-client  a client process SIGKILLed mid-call (hostile-client.js)
//   malformed    a raw peer sends a malformed frame or a bad length prefix
//   silent       a raw peer connects and never says HELLO (handshake timeout)
//   stall        the server's event loop blocks for 300 ms
//   stuck        a raw peer opens a stream and stops reading for 2 s, then vanishes
//   restart      the last server is SIGKILLed and restarted (clients reconnect), at most once a
//                minute; the first server lives the whole run (its RSS is the leak check)
// Every --report-seconds it prints each server's RSS, heap, connections and region
// leases, this process's RSS, calls completed and errors by Connect code. It fails (exit 1)
// when a server died without being killed, or when a server's or this process's RSS after
// the warm-up (the first fifth of the run, at most 2 min) grew by more than --rss-growth-mb.
import { spawn } from "node:child_process";
import * as net from "node:net";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createUringTransport, capabilities } from "../dist/index.js";
import { encodeCallStart, encodeHello } from "../dist/frame/frames.js";
import { prepareMetadata } from "../dist/frame/metadata.js";
import { MarketService } from "../test/gen/market/v1/market_pb.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = parseArgs(process.argv.slice(2));
const minutes = Number(args.minutes ?? 10);
const growthLimit = Number(args["rss-growth-mb"] ?? 100) * 1024 * 1024;
const reportEvery = Number(args["report-seconds"] ?? 10) * 1000;
const uring = capabilities().ioUring.available;
const channels = (args.channels ?? (uring ? "uring-tcp,net-tcp" : "net-tcp")).split(",");
const faults = (args.faults ?? "kill-client,malformed,silent,stall,stuck,restart").split(",");
const MB = 1024 * 1024;

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    out[m[1]] = m[2] ?? argv[++i];
  }
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (list) => list[Math.floor(Math.random() * list.length)];
let sockets = 0;
function listenUrl(channel) {
  return channel.endsWith("unix") ? `unix://${tmpdir()}/crdma-soak-${process.pid}-${++sockets}.sock` : "tcp://127.0.0.1:0";
}
const engineOf = (channel) => (channel.startsWith("uring") ? "uring" : "net");

// ---- servers (child processes) -----------------------------------------------------

class ServerProcess {
  constructor(channel) {
    this.channel = channel;
    this.samples = [];
    this.killedOnPurpose = false;
    this.died = undefined;
  }

  /** Starts (or restarts) the process; a restart listens on a fresh URL (a new port or path). */
  async start() {
    this.killedOnPurpose = false;
    this.instance = (this.instance ?? 0) + 1;
    const child = spawn(process.execPath, [`${root}test/fixtures/hostile-server.js`, engineOf(this.channel), listenUrl(this.channel), JSON.stringify({ monitorMs: 1000, server: { handshakeTimeoutMs: 2000, sendTimeoutMs: 2000 } })], { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
    this.child = child;
    const first = new Promise((resolve, reject) => {
      createInterface({ input: child.stdout }).on("line", (line) => {
        let value;
        try {
          value = JSON.parse(line);
        } catch {
          return;
        }
        if (value.url) resolve(value.url);
        else this.samples.push({ ...value, at: Date.now(), instance: this.instance });
      });
      child.once("exit", (code, signal) => {
        reject(new Error(`server ${this.channel} exited before listening (${code ?? signal})`));
      });
    });
    child.once("exit", (code, signal) => {
      if (!this.killedOnPurpose && !stopping) this.died = `${code ?? signal}`;
    });
    this.url = await first;
    return this.url;
  }

  latest() {
    return this.samples[this.samples.length - 1];
  }

  async kill() {
    this.killedOnPurpose = true;
    this.restartedAt = Date.now();
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGKILL");
    await exited;
  }

  async stop() {
    this.killedOnPurpose = true;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }
}

// ---- load ----------------------------------------------------------------------------

const counts = { ok: 0, errors: new Map(), faults: new Map() };
/** Counts an error by code; `expected` (the call was cancelled or given a 1-5 ms deadline on purpose) marks it so. */
function countError(e, expected = []) {
  const c = ConnectError.from(e).code;
  const key = expected.includes(c) ? `${Code[c]} (injected)` : Code[c] ?? "Unknown";
  counts.errors.set(key, (counts.errors.get(key) ?? 0) + 1);
}
function countFault(name) {
  counts.faults.set(name, (counts.faults.get(name) ?? 0) + 1);
}

let stopping = false;

async function loadLoop(server, kind, n) {
  let transport = createUringTransport({ url: server.url, engine: engineOf(server.channel) });
  let client = createClient(MarketService, transport);
  let url = server.url;
  for (let i = 0; !stopping; i++) {
    if (server.url !== url) {
      // The server restarted on a new port: a new transport (the old one only knows the old URL).
      await transport.close();
      url = server.url;
      transport = createUringTransport({ url, engine: engineOf(server.channel) });
      client = createClient(MarketService, transport);
    }
    const controller = new AbortController();
    const cancelSoon = i % 17 === 0;
    if (cancelSoon) setTimeout(() => controller.abort(), 2 + (i % 20));
    const timeoutMs = i % 23 === 0 ? 1 + (i % 5) : 10_000;
    try {
      if (kind === "unary") {
        const q = await client.getQuote({ symbol: `u${n}-${i}`, payload: new Uint8Array(i % 2000) }, { signal: controller.signal, timeoutMs });
        if (q.symbol !== `u${n}-${i}`) throw new ConnectError("wrong reply", Code.DataLoss);
      } else if (kind === "stream") {
        let got = 0;
        for await (const _ of client.subscribe({ symbols: ["S"], count: 20, payloadBytes: i % 3 === 0 ? 40_000 : 100 }, { signal: controller.signal, timeoutMs })) got++;
        if (got !== 20) throw new ConnectError(`stream ended after ${got}`, Code.DataLoss);
      } else if (kind === "client-stream") {
        async function* orders() {
          for (let k = 0; k < 10; k++) yield { clientOrderId: `c${k}`, signature: new Uint8Array(100 * k) };
        }
        const r = await client.submitOrders(orders(), { signal: controller.signal, timeoutMs });
        if (r.accepted !== 10) throw new ConnectError(`accepted ${r.accepted}`, Code.DataLoss);
      } else {
        async function* orders() {
          for (let k = 0; k < 10; k++) {
            yield { clientOrderId: `b${k}` };
            await sleep(1);
          }
        }
        let acks = 0;
        for await (const _ of client.trade(orders(), { signal: controller.signal, timeoutMs })) acks++;
        if (acks !== 10) throw new ConnectError(`acks ${acks}`, Code.DataLoss);
      }
      counts.ok++;
    } catch (e) {
      // Unavailable while its server restarts (kill → new process → new URL) is the fault's doing.
      const restarting = Date.now() - (server.restartedAt ?? 0) < 5000 || server.url !== url;
      countError(e, [...(cancelSoon ? [Code.Canceled] : []), ...(timeoutMs < 10 ? [Code.DeadlineExceeded] : []), ...(restarting ? [Code.Unavailable] : [])]);
      await sleep(5);
    }
  }
  await transport.close();
}

// ---- faults --------------------------------------------------------------------------

function rawSocket(url) {
  const unix = /^unix:\/\/(\/.*)$/.exec(url);
  const tcp = /:(\d+)$/.exec(url);
  const socket = unix ? net.connect(unix[1]) : net.connect(Number(tcp[1]), "127.0.0.1");
  socket.on("error", () => undefined);
  return socket;
}
function framed(out) {
  const body = new Uint8Array(out.byteLength);
  out.write(body);
  const b = Buffer.alloc(4 + body.byteLength);
  b.writeUInt32LE(body.byteLength);
  b.set(body, 4);
  return b;
}
const HELLO = { version: 1, minVersion: 1, maxMessageBytes: 4 * MB, maxHeaderBytes: 65536, maxConcurrentStreams: 100, initialWindowBytes: 1 << 20 };

const FAULTS = {
  async "kill-client"(server) {
    const mode = pick(["unary", "stream", "bidi"]);
    const child = spawn(process.execPath, [`${root}test/fixtures/hostile-client.js`, engineOf(server.channel), server.url, mode, `k${Date.now()}`], { cwd: root, stdio: ["pipe", "ignore", "ignore"] });
    await sleep(200 + Math.random() * 800);
    child.kill("SIGKILL");
  },
  async malformed(server) {
    const socket = rawSocket(server.url);
    const garbage = pick([
      Buffer.concat([framed(encodeHello(HELLO)), Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 99, 1, 2, 3, 4, 5, 6, 7, 8])]),
      Buffer.concat([framed(encodeHello(HELLO)), Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])]),
      Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9]),
      Buffer.concat([framed(encodeHello(HELLO)), framed(encodeCallStart(1, "/\u0000bad", prepareMetadata(undefined), undefined, new Uint8Array(3), true)).subarray(0, 20)]),
    ]);
    socket.write(garbage);
    await sleep(500);
    socket.destroy();
  },
  async silent(server) {
    const socket = rawSocket(server.url);
    await sleep(2500); // the server's handshake timeout (2 s) closes it first
    socket.destroy();
  },
  async stall(server) {
    const transport = createUringTransport({ url: server.url, engine: engineOf(server.channel) });
    await createClient(MarketService, transport).getQuote({ symbol: "STALL:300" }).catch(countError);
    await transport.close();
  },
  async stuck(server) {
    const socket = rawSocket(server.url);
    socket.pause();
    // Subscribe{symbols:["X"], count:0 (endless), payload_bytes:8000}
    socket.write(Buffer.concat([framed(encodeHello(HELLO)), framed(encodeCallStart(1, "/market.v1.MarketService/Subscribe", prepareMetadata(undefined), undefined, new Uint8Array([0x0a, 1, 0x58, 0x10, 0, 0x18, 0xc0, 0x3e]), true))]));
    await sleep(2000);
    socket.destroy();
  },
  lastRestart: 0,
  async restart(server) {
    if (Date.now() - FAULTS.lastRestart < 60_000) return false;
    FAULTS.lastRestart = Date.now();
    await server.kill();
    // Clients see Unavailable meanwhile, then follow server.url. A start can fail while the
    // addon is being rebuilt by someone else: retry a few times before giving up.
    for (let attempt = 1; ; attempt++) {
      try {
        await server.start();
        break;
      } catch (e) {
        if (attempt === 5) {
          server.died = `restart failed: ${e.message}`;
          throw e;
        }
        await sleep(2000);
      }
    }
    return true;
  },
};

// ---- run -----------------------------------------------------------------------------

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.floor(s.length / 2)];
}

async function main() {
  console.log(`[soak] ${minutes} min on ${channels.join(", ")}; faults: ${faults.join(", ")}; RSS growth limit ${growthLimit / MB} MB`);
  const servers = [];
  for (const channel of channels) {
    const s = new ServerProcess(channel);
    await s.start();
    servers.push(s);
  }
  const loops = [];
  servers.forEach((s, si) => {
    for (const kind of ["unary", "unary", "unary", "stream", "client-stream", "bidi"]) loops.push(loadLoop(s, kind, si * 10 + loops.length));
  });

  const start = Date.now();
  const end = start + minutes * 60_000;
  const warmupEnd = start + Math.min(minutes * 60_000 * 0.2, 120_000);
  const selfSamples = [];
  let nextReport = start + reportEvery;
  let lastOk = 0;
  const faultRunner = (async () => {
    while (!stopping) {
      await sleep(1000 + Math.random() * 2000);
      if (stopping) break;
      const name = pick(faults);
      // Restarts hit the last server only, so the first one lives the whole run: its RSS
      // over the full duration is what the leak check is about.
      const server = name === "restart" && servers.length > 1 ? servers[servers.length - 1] : pick(servers);
      try {
        if ((await FAULTS[name](server)) !== false) countFault(name);
      } catch (e) {
        console.log(`[soak] fault ${name} threw: ${e.message}`);
      }
    }
  })();

  let failure;
  while (Date.now() < end) {
    await sleep(250);
    const dead = servers.find((s) => s.died !== undefined);
    if (dead) {
      failure = `server ${dead.channel} died (${dead.died}) without being killed`;
      break;
    }
    if (Date.now() >= nextReport) {
      nextReport += reportEvery;
      const self = process.memoryUsage().rss;
      selfSamples.push({ t: Date.now(), rss: self });
      const t = Math.round((Date.now() - start) / 1000);
      const per = servers
        .map((s) => {
          const l = s.latest();
          return l ? `${s.channel}: rss ${(l.rss / MB).toFixed(0)} MB heap ${(l.heapUsed / MB).toFixed(0)} MB conns ${l.connections} leases ${l.leases} lag ${l.lagMs} ms` : `${s.channel}: -`;
        })
        .join(" | ");
      const errors = [...counts.errors].map(([k, v]) => `${k} ${v}`).join(", ") || "none";
      console.log(`[soak] t=${t}s ok ${counts.ok} (+${counts.ok - lastOk}) errors {${errors}} faults {${[...counts.faults].map(([k, v]) => `${k} ${v}`).join(", ")}} | load rss ${(self / MB).toFixed(0)} MB | ${per}`);
      lastOk = counts.ok;
    }
  }
  stopping = true;
  await Promise.race([Promise.all([...loops, faultRunner]), sleep(15_000)]);

  // RSS growth after the warm-up: median of the first samples after it vs the last ones.
  const verdicts = [];
  const growth = (name, samples) => {
    const after = samples.filter((s) => s.t >= warmupEnd);
    if (after.length < 4) return;
    const k = Math.max(2, Math.floor(after.length / 5));
    const base = median(after.slice(0, k).map((s) => s.rss));
    const last = median(after.slice(-k).map((s) => s.rss));
    const grew = last - base;
    verdicts.push({ name, baseMB: Math.round(base / MB), lastMB: Math.round(last / MB), grewMB: Math.round(grew / MB) });
    if (grew > growthLimit && failure === undefined) failure = `${name}: RSS grew ${(grew / MB).toFixed(0)} MB after the warm-up (limit ${growthLimit / MB} MB)`;
  };
  for (const s of servers) {
    for (let i = 1; i <= s.instance; i++) {
      growth(`server ${s.channel}${s.instance > 1 ? ` #${i}` : ""}`, s.samples.filter((x) => x.instance === i).map((x) => ({ t: x.at, rss: x.rss })));
    }
  }
  growth("load process", selfSamples);
  for (const s of servers) await s.stop();

  const summary = { minutes, channels, ok: counts.ok, errors: Object.fromEntries(counts.errors), faults: Object.fromEntries(counts.faults), rss: verdicts, failure: failure ?? null };
  console.log(`[soak] summary ${JSON.stringify(summary)}`);
  if (failure) {
    console.error(`[soak] FAILED: ${failure}`);
    process.exit(1);
  }
  console.log("[soak] passed");
  process.exit(0);
}

await main();
