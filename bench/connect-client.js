// Child process: the client of one Connect benchmark run.
//   node bench/connect-client.js '{"driver":…,"endpoint":…,"inflight":…,"warmupMs":…,"measureMs":…,"payloadBytes":…}'
// Runs the closed loop of lib/rpc-load.js, tells the parent { type: "measuring" } when
// the measured window opens, then { type: "result", … } with the histogram (compressed,
// base64) and the transport counters.
import hdr from "hdr-histogram-js";

import { runChild, sendToParent } from "./lib/ipc.js";
import { rpcDriverById, rpcImplementation } from "./lib/rpc-drivers.js";
import { runCalls } from "./lib/rpc-load.js";
import { startSelfProfile } from "./lib/self-profile.js";

runChild(async () => {
  const config = JSON.parse(process.argv[2] ?? "null");
  if (!config) throw new Error("usage: connect-client.js CONFIG_JSON");
  const driver = rpcDriverById(config.driver);
  const stopProfile = await startSelfProfile(`${config.driver}-client`);
  const { createCaller } = await rpcImplementation(driver);
  const caller = await createCaller(driver, config.endpoint, config.payloadBytes);
  const result = await runCalls({
    call: caller.call,
    inflight: config.inflight,
    warmupMs: config.warmupMs,
    measureMs: config.measureMs,
    onMeasureStart: () => void sendToParent({ type: "measuring" }),
  });
  const stats = caller.stats();
  await caller.close();
  await stopProfile();
  await sendToParent({
    type: "result",
    engine: caller.engine,
    histogram: hdr.encodeIntoCompressedBase64(result.histogram),
    recorded: result.recorded,
    windowCalls: result.windowCalls,
    windowMs: result.windowMs,
    callsPerSec: result.callsPerSec,
    stats,
  });
  process.exit(0);
});
