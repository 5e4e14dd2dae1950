// Repro (RDMA engine): frames are delivered out of order when a large frame (one-sided
// READ) is followed by a small one (SEND): the small frame is delivered as soon as it
// lands, while the READ of the large one is still running. At the Connect level this
// loses messages: END overtakes the last large MESSAGEs of a stream, which are then
// dropped as frames of an ended stream (transport suite: "a large, slowly consumed
// stream does not starve small calls" received 62 of 64).
//   npx connect-rdma softroce run --mode guest --timeout 120 -- node test/rdma/repro/frame-order.mjs
// Expected: the server sees [65536, 10] every round.
import { RdmaEngine } from "../../../dist/channel/rdma-engine.js";

const server = new RdmaEngine({});
const client = new RdmaEngine({ localAddress: process.env.SOFTROCE_IP1 ?? "10.77.0.2" });
const seen = [];
const listener = await server.listen(`rdma://${process.env.SOFTROCE_IP0 ?? "10.77.0.1"}:0`, () => ({
  onFrame: (f) => seen.push(f.byteLength),
  onClose() {},
}));
const ch = await client.connect(listener.url, { onFrame() {}, onClose() {} });
let wrong = 0;
for (let round = 0; round < 10; round++) {
  seen.length = 0;
  ch.send(ch.allocate(65536));
  ch.send(ch.allocate(10));
  const deadline = Date.now() + 5000;
  while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  console.log(`round ${round}: server received ${JSON.stringify(seen)}`);
  if (JSON.stringify(seen) !== "[65536,10]") wrong++;
}
await client.close(0);
await server.close(0);
console.log(wrong > 0 ? `BUG REPRODUCED (${wrong}/10 rounds out of order)` : "ok");
process.exit(wrong > 0 ? 1 : 0);
