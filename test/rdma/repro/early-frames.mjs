// Repro (RDMA engine): on the passive side, a SEND that completes before rdma_cm's
// ESTABLISHED event was handled is dropped (OnRecv returns the slot while the connection
// is still kConnecting); the client sends as soon as its own ESTABLISHED arrives, so its
// first frame (the protocol's HELLO) can vanish: "handshake not completed within
// 10000 ms" in the transport suite. The received slot is not re-posted either.
//   npx connect-rdma softroce run --mode guest --timeout 200 -- node test/rdma/repro/early-frames.mjs
// Expected: every connection's first frame is echoed.
import { RdmaEngine } from "../../../dist/channel/rdma-engine.js";
import { CLIENT_ADDRESS, SERVER_URL, echo } from "./echo.mjs";

const server = new RdmaEngine({});
const client = new RdmaEngine({ localAddress: CLIENT_ADDRESS });
const listener = await server.listen(SERVER_URL, echo);
let lost = 0;
const rounds = 30;
for (let i = 0; i < rounds; i++) {
  let done;
  const echoed = new Promise((resolve) => (done = resolve));
  const ch = await client.connect(listener.url, { onFrame: () => done(true), onClose: () => done(false) });
  ch.send(ch.allocate(100)); // at once, as the protocol's HELLO is
  const ok = await Promise.race([echoed, new Promise((r) => setTimeout(() => r(false), 3000))]);
  if (!ok) lost++;
  ch.close();
}
console.log(`first frames lost: ${lost}/${rounds}; server framesIn ${server.stats().framesIn}`);
await client.close(0);
await server.close(0);
console.log(lost > 0 ? "BUG REPRODUCED" : "ok");
process.exit(lost > 0 ? 1 : 0);
