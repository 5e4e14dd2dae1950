import { Session } from "node:inspector/promises";
import { createClient } from "@connectrpc/connect";
import { createServer, createUringTransport } from "connect-rdma";
import { BenchService } from "./gen/bench/v1/bench_pb.js";
import { benchServiceImpl } from "./lib/rpc-service.js";
const server = createServer({ routes: (r) => r.service(BenchService, benchServiceImpl) });
const url = await server.listen("tcp://127.0.0.1:0");
const transport = createUringTransport({ url });
const client = createClient(BenchService, transport);
const N = Number(process.argv[2] ?? 20000);
async function consume(n) { let i = 0; for await (const m of client.stream({ payloadBytes: 64, count: BigInt(n) })) i++; return i; }
await consume(50000);
const s = new Session(); s.connect(); await s.post("HeapProfiler.enable");
await s.post("HeapProfiler.startSampling", { samplingInterval: 64, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
const got = await consume(N);
const { profile } = await s.post("HeapProfiler.stopSampling");
const nodes = new Map();
(function walk(n, parent) { nodes.set(n.id, { f: n.callFrame, parent }); for (const c of n.children) walk(c, n.id); })(profile.head, undefined);
const short = (u) => u.replace(/^.*\/(node_modules|dist|bench)\//, "").replace("file://", "");
const by = new Map(); let total = 0;
for (const smp of profile.samples) { total += smp.size; const st = []; let id = smp.nodeId; while (id !== undefined && st.length < 4) { const n = nodes.get(id); if (!n) break; if (n.f.url || (n.f.functionName && n.f.functionName !== "(root)")) st.push(`${n.f.functionName || "anon"}@${short(n.f.url)}:${n.f.lineNumber + 1}`); id = n.parent; } const k = st.join(" < "); by.set(k, (by.get(k) ?? 0) + smp.size); }
console.log("messages", got, "bytes/msg", (total / got).toFixed(0));
for (const [k, b] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((b / got).toFixed(0).padStart(6), k);
await transport.close(); await server.close(0);
