// Child process: the RPC server of one Connect benchmark run.
//   node bench/connect-server.js DRIVER ADDRESS     (ADDRESS: host:port or a Unix socket path)
// Tells the parent { type: "ready", endpoint, engine } once listening; on { type: "stop" }
// it replies { type: "stopped", stats } with its counters and exits.
import { runChild, sendToParent } from "./lib/ipc.js";
import { rpcDriverById, rpcImplementation } from "./lib/rpc-drivers.js";
import { startSelfProfile } from "./lib/self-profile.js";

runChild(async () => {
  const [driverId, address] = process.argv.slice(2);
  if (!driverId || !address) throw new Error("usage: connect-server.js DRIVER ADDRESS");
  const driver = rpcDriverById(driverId);
  const stopProfile = await startSelfProfile(`${driverId}-server`);
  const { startServer } = await rpcImplementation(driver);
  const server = await startServer(driver, address);
  process.on("message", (message) => {
    if (message?.type !== "stop") return;
    const stats = server.stats();
    server
      .close()
      .then(stopProfile)
      .then(() => sendToParent({ type: "stopped", stats }))
      .then(() => process.exit(0), () => process.exit(1));
  });
  await sendToParent({ type: "ready", endpoint: server.endpoint, engine: server.engine });
});
