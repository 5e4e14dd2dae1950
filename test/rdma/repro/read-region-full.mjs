// Repro (RDMA engine): a READ_REQUEST that arrives while the reader's lease area is full
// closes the connection with ERR_REGION_FULL, where the io_uring engine parks the receive
// and resumes once leases come back (back-pressure, docs/LIFETIMES.md). The channel suite's
// "pipelines 80 x 1 MiB frames" test fails this way on RDMA.
//   softroce/run-in-guest.sh --timeout 120 -- node test/rdma/repro/read-region-full.mjs
// Expected: the 1 MiB frame is delivered once the held lease is released.
import { RdmaEngine } from "../../../dist/channel/rdma-engine.js";

const server = new RdmaEngine({});
const client = new RdmaEngine({ region: { leaseBytes: 2 << 20 }, localAddress: process.env.SOFTROCE_IP1 ?? "10.77.0.2" });
const listener = await server.listen(`rdma://${process.env.SOFTROCE_IP0 ?? "10.77.0.1"}:0`, (ch) => ({
  onFrame() {
    const big = ch.allocate(1 << 20);
    big.bytes.fill(7);
    ch.send(big);
  },
  onClose() {},
}));
let done;
const result = new Promise((resolve) => (done = resolve));
const ch = await client.connect(listener.url, {
  onFrame: (f) => done(`delivered ${f.byteLength} bytes`),
  onClose: (e) => done(`closed: ${e?.code} ${e?.message}`),
});
const held = ch.allocate(1536 * 1024); // the client's lease area is now too full for 1 MiB
ch.send(ch.allocate(10)); // ask for the 1 MiB frame
setTimeout(() => held.release(), 1000); // room comes back a second later
const outcome = await Promise.race([result, new Promise((r) => setTimeout(() => r("nothing within 10 s"), 10_000))]);
console.log(outcome);
await client.close(0);
await server.close(0);
const ok = outcome.startsWith("delivered");
console.log(ok ? "ok" : "BUG REPRODUCED");
process.exit(ok ? 0 : 1);
