// Repro (RDMA engine): a READ transfer that starts while the queue pair's send queue is
// full (sends_in_flight == max_send_wr: e.g. 20 transfers x 4 chunks in flight) posts no
// chunk at all, and nothing ever posts its chunks later (PostReads runs again only from
// a completion of the same transfer): the frame never arrives, its exporter's key and
// lease stay granted forever. The channel suite's "pipelines 80 x 1 MiB frames" test
// stalls this way (67 of 80 echoed, then nothing).
//   softroce/run-in-guest.sh --timeout 120 -- node test/rdma/repro/read-stall.mjs
// Expected: all 40 frames delivered.
import { RdmaEngine } from "../../../dist/channel/rdma-engine.js";

const server = new RdmaEngine({});
const client = new RdmaEngine({ localAddress: process.env.SOFTROCE_IP1 ?? "10.77.0.2" });
let got = 0;
const listener = await server.listen(`rdma://${process.env.SOFTROCE_IP0 ?? "10.77.0.1"}:0`, () => ({
  onFrame: () => got++,
  onClose() {},
}));
const ch = await client.connect(listener.url, { onFrame() {}, onClose() {} });
const count = 40;
for (let i = 0; i < count; i++) ch.send(ch.allocate(256 * 1024)); // 4 READ chunks each
const deadline = Date.now() + 15_000;
while (got < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const s = client.stats();
console.log(`delivered ${got}/${count}; exporter keys granted ${s.keysGranted}, revoked ${s.keysRevoked}`);
await client.close(0);
await server.close(0);
console.log(got < count ? "BUG REPRODUCED" : "ok");
process.exit(got < count ? 1 : 0);
