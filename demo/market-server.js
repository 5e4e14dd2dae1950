// Child process of the demo: the market service (lib/market-service.js) served twice by
// this one process — by connect-rdma's createServer on the engine "auto" picks here, and
// by connect-node's connectNodeAdapter on node:http2 (h2c) — so the parent can call the
// same handlers over both transports.
//   node demo/market-server.js [URL]        (default tcp://127.0.0.1:0)
// Protocol with the parent (Node IPC, { type, ... }):
//   -> { type: "ready", url, h2Url, engine, reason? }
//   <- { type: "stats" }  -> { type: "stats", stats }   connect-rdma server counters
//   <- { type: "stop" }   -> closes both servers and exits 0
// Any failure is reported as { type: "error", message } and exits 1.
import http2 from "node:http2";

import { connectNodeAdapter } from "@connectrpc/connect-node";
import { autoEngine, createServer } from "connect-rdma";

import { marketRoutes } from "./lib/market-service.js";

function reply(message) {
  return new Promise((resolve) => process.send(message, resolve));
}

async function main() {
  const server = createServer({ routes: marketRoutes });
  const url = await server.listen(process.argv[2] ?? "tcp://127.0.0.1:0");
  const h2 = http2.createServer(connectNodeAdapter({ routes: marketRoutes }));
  const sessions = new Set();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise((resolve, reject) => {
    h2.once("error", reject);
    h2.listen(0, "127.0.0.1", resolve);
  });
  process.on("message", async (message) => {
    if (message?.type === "stats") {
      await reply({ type: "stats", stats: server.stats() });
    } else if (message?.type === "stop") {
      for (const session of sessions) session.destroy();
      await Promise.all([server.close(1000), new Promise((resolve) => h2.close(resolve))]);
      process.exit(0);
    }
  });
  process.once("disconnect", () => process.exit(0));
  const { engine, reason } = autoEngine();
  await reply({ type: "ready", url, h2Url: `http://127.0.0.1:${h2.address().port}`, engine, ...(reason ? { reason } : {}) });
}

main().catch(async (error) => {
  await reply({ type: "error", message: error?.stack ?? String(error) }).catch(() => undefined);
  process.exit(1);
});
