// Child process of the demo: an echo server on whatever engine "auto" picks here.
//   node demo/echo-server.js URL        (default tcp://127.0.0.1:0)
// Protocol with the parent (Node IPC, { type, ... }):
//   -> { type: "ready", url, engine, reason? }    listening; engine of this process
//   <- { type: "stats" }  -> { type: "stats", channel, engine }   counters so far
//   <- { type: "stop" }   -> closes everything and exits 0
// Any failure is reported as { type: "error", message } and exits 1.
import { autoEngine, engineForUrl } from "connect-rdma";

function reply(message) {
  return new Promise((resolve) => process.send(message, resolve));
}

async function main() {
  const url = process.argv[2] ?? "tcp://127.0.0.1:0";
  const engine = engineForUrl(url);
  let channelStats;
  const channels = new Set();
  const listener = await engine.listen(url, (channel) => {
    channels.add(channel);
    return {
      onFrame(frame) {
        // The frame is a view valid only during this call: copy it into a send lease.
        const lease = channel.allocate(frame.length);
        lease.bytes.set(frame);
        channel.send(lease);
      },
      onClose() {
        channelStats = channel.stats();
        channels.delete(channel);
      },
    };
  });
  process.on("message", async (message) => {
    if (message?.type === "stats") {
      for (const channel of channels) channelStats = channel.stats();
      await reply({ type: "stats", channel: channelStats ?? null, engine: engine.stats?.() ?? null });
    } else if (message?.type === "stop") {
      await listener.close();
      await engine.close();
      process.exit(0);
    }
  });
  process.once("disconnect", () => process.exit(0));
  const { reason } = autoEngine();
  await reply({ type: "ready", url: listener.url, engine: engine.name, ...(reason ? { reason } : {}) });
}

main().catch(async (error) => {
  await reply({ type: "error", message: error?.stack ?? String(error) }).catch(() => undefined);
  process.exit(1);
});
