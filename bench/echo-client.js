// Child process: the client of one benchmark run.
//   node bench/echo-client.js '{"driver":…,"endpoint":…,"inflight":…,"warmupMs":…,"measureMs":…,"payloadBytes":…}'
// Runs the closed loop of lib/load.js against the server, tells the parent
// { type: "measuring" } when the measured window opens, then { type: "result", … }
// with the histogram (compressed, base64) and the transport counters.
import hdr from "hdr-histogram-js";

import { driverById, implementation } from "./lib/drivers.js";
import { runChild, sendToParent } from "./lib/ipc.js";
import { runLoad } from "./lib/load.js";

runChild(async () => {
  const config = JSON.parse(process.argv[2] ?? "null");
  if (!config) throw new Error("usage: echo-client.js CONFIG_JSON");
  const driver = driverById(config.driver);
  const { connectClient } = await implementation(driver);
  const result = await runLoad({
    connect: (onReply, onError) =>
      connectClient(driver, config.endpoint, { payloadBytes: config.payloadBytes, onReply, onError }),
    inflight: config.inflight,
    warmupMs: config.warmupMs,
    measureMs: config.measureMs,
    onMeasureStart: () => void sendToParent({ type: "measuring" }),
  });
  const stats = result.client.stats();
  await result.client.close();
  await sendToParent({
    type: "result",
    engine: result.client.engine,
    histogram: hdr.encodeIntoCompressedBase64(result.histogram),
    recorded: result.recorded,
    windowReplies: result.windowReplies,
    windowMs: result.windowMs,
    rttPerSec: result.rttPerSec,
    stats,
  });
  process.exit(0);
});
