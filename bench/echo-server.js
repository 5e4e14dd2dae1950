// Child process: the echo server of one benchmark run.
//   node bench/echo-server.js DRIVER ADDRESS     (ADDRESS: host:port or a Unix socket path)
// Tells the parent { type: "ready", endpoint } once listening; on { type: "stop" } it
// replies { type: "stopped", stats } with its transport counters and exits.
import { driverById, implementation } from "./lib/drivers.js";
import { runChild, sendToParent } from "./lib/ipc.js";

runChild(async () => {
  const [driverId, address] = process.argv.slice(2);
  if (!driverId || !address) throw new Error("usage: echo-server.js DRIVER ADDRESS");
  const driver = driverById(driverId);
  const { startServer } = await implementation(driver);
  const server = await startServer(driver, address);
  process.on("message", (message) => {
    if (message?.type !== "stop") return;
    const stats = server.stats();
    server
      .close()
      .then(() => sendToParent({ type: "stopped", stats }))
      .then(() => process.exit(0), () => process.exit(1));
  });
  await sendToParent({ type: "ready", endpoint: server.endpoint, engine: server.engine });
});
