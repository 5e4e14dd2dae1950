// Repro (RDMA engine): a connection accepted or opened when the region has no free
// receive slot left gets recv_depth 0 and can never carry a frame: it hangs silently
// instead of being refused or sharing slots. Here 64 slots / recvDepth 32 = 2 working
// connections; the 3rd neither echoes nor closes.
//   softroce/run-in-guest.sh --timeout 120 -- node test/rdma/repro/slots-exhausted.mjs
// Expected: every connection echoes (or the 3rd connect() fails with a clear error).
import { RdmaEngine } from "../../../dist/channel/rdma-engine.js";
import { CLIENT_ADDRESS, SERVER_URL, echo } from "./echo.mjs";

const region = { recvSlots: 64 };
const server = new RdmaEngine({ region, recvDepth: 32 });
const client = new RdmaEngine({ region: { recvSlots: 1024 }, localAddress: CLIENT_ADDRESS });
const listener = await server.listen(SERVER_URL, echo);
let failed = false;
for (let i = 1; i <= 3; i++) {
  let done;
  const echoed = new Promise((resolve) => (done = resolve));
  let result;
  try {
    const ch = await client.connect(listener.url, { onFrame: () => done("echoed"), onClose: (e) => done(`closed ${e?.code}`) });
    ch.send(ch.allocate(100));
    result = await Promise.race([echoed, new Promise((r) => setTimeout(() => r("nothing within 5 s"), 5000))]);
  } catch (error) {
    result = `connect failed: ${error.code}`; // a clear refusal is an acceptable answer
  }
  console.log(`connection ${i}: ${result}`);
  if (result !== "echoed" && !result.startsWith("connect failed")) failed = true;
}
console.log("server", JSON.stringify(server.stats()));
await client.close(0);
await server.close(0);
console.log(failed ? "BUG REPRODUCED" : "ok");
process.exit(failed ? 1 : 0);
