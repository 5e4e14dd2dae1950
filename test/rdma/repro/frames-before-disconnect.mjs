// Repro (RDMA engine): frames that arrived just before the peer disconnected are
// dropped: Reap() handles rdma_cm events before polling the CQ, so DISCONNECTED closes
// the connection first and the receive completions behind it find it kClosing. The
// peer's graceful close waited for its sends to complete, so those frames had landed.
// In the transport suite a server's GOAWAY before it closes a malformed connection
// never reaches the client.
//   softroce/run-in-guest.sh --timeout 200 -- node test/rdma/repro/frames-before-disconnect.mjs
// Expected: 5 frames, then onClose, every round.
import { RdmaEngine } from "../../../dist/channel/rdma-engine.js";

const server = new RdmaEngine({});
const client = new RdmaEngine({ localAddress: process.env.SOFTROCE_IP1 ?? "10.77.0.2" });
const listener = await server.listen(`rdma://${process.env.SOFTROCE_IP0 ?? "10.77.0.1"}:0`, (ch) => ({
  onFrame() {
    for (let i = 0; i < 5; i++) ch.send(ch.allocate(100));
    ch.close(); // graceful: the 5 frames leave first
  },
  onClose() {},
}));
let bad = 0;
const rounds = 20;
for (let i = 0; i < rounds; i++) {
  let frames = 0;
  let done;
  const closed = new Promise((resolve) => (done = resolve));
  const ch = await client.connect(listener.url, { onFrame: () => frames++, onClose: () => done() });
  await new Promise((r) => setTimeout(r, 50)); // past the early-frames race
  ch.send(ch.allocate(10));
  await Promise.race([closed, new Promise((r) => setTimeout(r, 5000))]);
  if (frames !== 5) {
    bad++;
    console.log(`round ${i}: ${frames} frames before the close`);
  }
}
await client.close(0);
await server.close(0);
console.log(bad > 0 ? `BUG REPRODUCED (${bad}/${rounds} rounds lost frames)` : "ok");
process.exit(bad > 0 ? 1 : 0);
