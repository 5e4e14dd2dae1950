// The transport suite on io_uring with the engines set up to split everything that can
// be split: 4 KiB receive slots (most messages straddle slots and are reassembled) and
// dispatchChunk 1 (every frame reaches JS in its own chunk, the answers are submitted in
// between). The same behaviour is required as with the defaults.
import { afterAll } from "vitest";
import { UringEngine } from "../../src/index.js";
import { listenUrl, uringUnavailable } from "../channel/engines.js";
import { transportSuite } from "./transport-suite.js";

const unavailable = uringUnavailable();
const options = { dispatchChunk: 1, region: { slotSize: 4096, recvSlots: 128, leaseBytes: 32 * 1024 * 1024 } };
const serverEngine = unavailable === undefined ? new UringEngine(options) : undefined;
const clientEngine = unavailable === undefined ? new UringEngine(options) : undefined;
afterAll(async () => {
  await serverEngine?.close();
  await clientEngine?.close();
});

transportSuite("uring-tcp, 4 KiB slots, dispatchChunk 1", {
  listenUrl: () => listenUrl("tcp"),
  unavailable: () => unavailable,
  serverOptions: () => ({ engine: serverEngine }),
  transportOptions: () => ({ engine: clientEngine }),
});
