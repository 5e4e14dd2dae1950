// What the young-generation GC costs per unary call (a development tool for the Connect
// layer's hot path; not part of the benchmark tables). Server and client run in one
// child process (node --trace-gc-nvp) over a real channel, N calls in flight; after a
// warm-up, the GC lines of the measured window are summed: bytes allocated and bytes
// promoted to the old generation per call, and the scavenges' pause time.
//
// Promoted bytes per call are the number to watch: per-call objects should die young.
// When something keeps them alive past two scavenges (a long-lived Map or Set whose
// entries churn did, see src/frame/stream-table.ts), each scavenge copies them, the old
// generation fills with garbage, and the pauses grow to a large share of the CPU.
//   node bench/gc-profile.js [--engine uring|net|memory] [--bytes copy|alias (server)] [--inflight N] [--measure-ms MS]
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    engine: { type: "string", default: "uring" },
    bytes: { type: "string", default: "copy" },
    inflight: { type: "string", default: "64" },
    "warmup-ms": { type: "string", default: "1500" },
    "measure-ms": { type: "string", default: "4000" },
    child: { type: "boolean", default: false },
  },
});

if (values.child) {
  const { createClient } = await import("@connectrpc/connect");
  const { createServer, createUringTransport } = await import("connect-rdma");
  const { BenchService } = await import("./gen/bench/v1/bench_pb.js");
  const engine = values.engine;
  const engineOption = engine === "memory" ? {} : { engine };
  // The server's request policy; the client copies (a unary response held under "alias"
  // keeps its slot until the caller releases it).
  const server = createServer({ routes: (router) => router.service(BenchService, { echo: (req) => req }), ...engineOption, bytes: values.bytes });
  const bound = await server.listen(engine === "memory" ? `memory://gc-${process.pid}` : "tcp://127.0.0.1:0");
  const transport = createUringTransport({ url: bound, ...engineOption });
  const client = createClient(BenchService, transport);
  const payload = new Uint8Array(64).fill(0x61);
  let calls = 0;
  const run = async (ms) => {
    const end = Date.now() + ms;
    const lane = async () => {
      while (Date.now() < end) {
        await client.echo({ payload, seq: 1n });
        calls++;
      }
    };
    await Promise.all(Array.from({ length: Number(values.inflight) }, lane));
  };
  await run(Number(values["warmup-ms"]));
  calls = 0;
  const start = performance.now();
  console.log("GC-PROFILE-START");
  await run(Number(values["measure-ms"]));
  console.log(`GC-PROFILE-END calls=${calls} ms=${(performance.now() - start).toFixed(0)}`);
  await transport.close();
  await server.close(0);
} else {
  const self = fileURLToPath(import.meta.url);
  const args = ["--trace-gc-nvp", self, "--child", "--engine", values.engine, "--bytes", values.bytes, "--inflight", values.inflight];
  args.push("--warmup-ms", values["warmup-ms"], "--measure-ms", values["measure-ms"]);
  const child = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (child.status !== 0) {
    process.stderr.write(child.stderr);
    throw new Error(`the measuring child exited with ${child.status}`);
  }
  let measuring = false;
  let calls = 0;
  let ms = 0;
  const young = { count: 0, pause: 0, allocated: 0, promoted: 0 };
  const full = { count: 0, pause: 0 };
  const field = (line, name) => Number(new RegExp(`(?:^|\\s)${name}=([\\d.]+)`).exec(line)?.[1] ?? 0);
  for (const line of child.stdout.split("\n")) {
    if (line.startsWith("GC-PROFILE-START")) measuring = true;
    else if (line.startsWith("GC-PROFILE-END")) {
      measuring = false;
      calls = Number(/calls=(\d+)/.exec(line)[1]);
      ms = Number(/ms=(\d+)/.exec(line)[1]);
    } else if (measuring && /\bgc=s\b/.test(line)) {
      young.count++;
      young.pause += field(line, "pause");
      young.allocated += field(line, "allocated");
      young.promoted += field(line, "promoted");
    } else if (measuring && /\bgc=(mc|ms)\b/.test(line)) {
      full.count++;
      full.pause += field(line, "pause");
    }
  }
  console.log(`engine ${values.engine}, bytes "${values.bytes}", ${values.inflight} unary calls of a 64 B echo in flight, client + server in one process`);
  console.log(`| calls | calls/s | scavenges | allocated B/call | promoted B/call | scavenge pause | mark-compacts (pause) |`);
  console.log(`|---|---|---|---|---|---|---|`);
  const perCall = (bytes) => (calls > 0 ? (bytes / calls).toFixed(0) : "–");
  console.log(
    `| ${calls} | ${((calls / ms) * 1000).toFixed(0)} | ${young.count} | ${perCall(young.allocated)} | ${perCall(young.promoted)} | ` +
      `${young.pause.toFixed(0)} ms (${((100 * young.pause) / ms).toFixed(1)} % of ${ms} ms) | ${full.count} (${full.pause.toFixed(0)} ms) |`,
  );
}
