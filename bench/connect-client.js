// Child process: the client of one Connect benchmark run.
//   node bench/connect-client.js '{"driver":…,"endpoint":…,"rpc":…,"inflight":…,"warmupMs":…,"measureMs":…,"payloadBytes":…}'
// rpc "unary" (default): the closed loop of lib/rpc-load.js runCalls; rpc "stream": one
// server stream read by runStream. Tells the parent { type: "measuring" } when the
// measured window opens and { type: "measured" } when it closes, then
// { type: "result", … } with the histogram (unary; compressed, base64), the throughput
// and the transport counters.
import hdr from "hdr-histogram-js";

import { runChild, sendToParent } from "./lib/ipc.js";
import { rpcDriverById, rpcImplementation } from "./lib/rpc-drivers.js";
import { runCalls, runStream } from "./lib/rpc-load.js";
import { startSelfProfile } from "./lib/self-profile.js";

async function unary(caller, config) {
  const result = await runCalls({
    call: caller.call,
    inflight: config.inflight,
    warmupMs: config.warmupMs,
    measureMs: config.measureMs,
    onMeasureStart: () => void sendToParent({ type: "measuring" }),
  });
  await sendToParent({ type: "measured" });
  return {
    histogram: hdr.encodeIntoCompressedBase64(result.histogram),
    recorded: result.recorded,
    windowCalls: result.windowCalls,
    windowMs: result.windowMs,
    callsPerSec: result.callsPerSec,
  };
}

function stream(caller, config) {
  const window = {
    payloadBytes: config.payloadBytes,
    warmupMs: config.warmupMs,
    measureMs: config.measureMs,
    onMeasureStart: () => void sendToParent({ type: "measuring" }),
    onMeasureEnd: () => void sendToParent({ type: "measured" }),
  };
  // The raw channel floor meters its frames itself (no Connect stream to iterate).
  if (caller.measureStream) return caller.measureStream(window);
  return runStream({ open: () => caller.openStream(config.payloadBytes), stats: caller.stats, ...window });
}

runChild(async () => {
  const config = JSON.parse(process.argv[2] ?? "null");
  if (!config) throw new Error("usage: connect-client.js CONFIG_JSON");
  const driver = rpcDriverById(config.driver);
  const stopProfile = await startSelfProfile(`${config.driver}-client`);
  const { createCaller } = await rpcImplementation(driver);
  const caller = await createCaller(driver, config.endpoint, config.payloadBytes);
  const result = config.rpc === "stream" ? await stream(caller, config) : await unary(caller, config);
  const stats = caller.stats();
  await caller.close();
  await stopProfile();
  await sendToParent({ type: "result", engine: caller.engine, ...result, stats });
  process.exit(0);
});
