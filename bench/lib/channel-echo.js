// Echo over our channels (io_uring, RDMA or the node:net fallback engine), used exactly as an
// application would: allocate a lease, fill it, send it (ownership moves); a received
// frame is a view valid only during onFrame. Imports ../../dist, so `npx tsc` must have run.
import { SOFTROCE_IP1 } from "./softroce-addresses.js";

/** A new engine for the driver (the net and RDMA engines are loaded only when asked for). */
async function createEngine(driver, role) {
  if (driver.engine === "rdma") {
    const { RdmaEngine } = await import("../../dist/channel/rdma-engine.js");
    // The client leaves from the second soft-RoCE device (its address must be bound).
    const localAddress = role === "client" ? SOFTROCE_IP1 : undefined;
    return new RdmaEngine({ poll: driver.poll ?? "event", ...(localAddress ? { localAddress } : {}) });
  }
  if (driver.engine === "uring") {
    const { UringEngine } = await import("../../dist/channel/uring-engine.js");
    return new UringEngine({ poll: driver.poll ?? "event" });
  }
  if (driver.engine === "shm") {
    const { ShmEngine } = await import("../../dist/channel/shm-engine.js");
    return new ShmEngine({ poll: driver.poll ?? "event" });
  }
  if (driver.engine === "net") {
    const { NetEngine } = await import("../../dist/channel/net-engine.js");
    return new NetEngine({ poll: "event" });
  }
  throw new Error(`driver ${driver.id}: unknown engine ${driver.engine}`);
}

/** Channel URL for a listen address ("host:port" or a Unix socket path). */
function channelUrl(driver, address) {
  if (driver.transport === "rdma") return `rdma://${address}`;
  if (driver.transport === "shm") return `shm://${address}`;
  return address.startsWith("/") ? `unix://${address}` : `tcp://${address}`;
}

/** Engine counters when the engine has them (UringEngine.stats()), else undefined. */
function engineStats(engine) {
  if (typeof engine.stats !== "function") return undefined;
  const { region: _region, ...stats } = engine.stats();
  return stats;
}

/** An echo server: each frame is copied into a lease and sent back. */
export async function startServer(driver, address) {
  const engine = await createEngine(driver, "server");
  const channels = new Set();
  let lastChannelStats;
  const listener = await engine.listen(channelUrl(driver, address), (channel) => {
    channels.add(channel);
    return {
      onFrame(frame) {
        const lease = channel.allocate(frame.length);
        lease.bytes.set(frame);
        channel.send(lease);
      },
      onClose() {
        lastChannelStats = channel.stats();
        channels.delete(channel);
      },
    };
  });
  return {
    endpoint: listener.url,
    engine: engine.name,
    stats: () => {
      for (const channel of channels) lastChannelStats = channel.stats();
      return { channel: lastChannelStats, engine: engineStats(engine) };
    },
    close: async () => {
      await listener.close();
      await engine.close();
    },
  };
}

/**
 * A client: send(seq) sends one frame whose body starts with seq (u32 LE); onReply(seq)
 * is called for every echoed frame, in order.
 */
export async function connectClient(driver, endpoint, { payloadBytes, onReply, onError }) {
  const engine = await createEngine(driver, "client");
  let closing = false;
  const channel = await engine.connect(endpoint, {
    onFrame(frame) {
      onReply((frame[0] | (frame[1] << 8) | (frame[2] << 16) | (frame[3] << 24)) >>> 0);
    },
    onClose(error) {
      if (!closing) onError(error ?? new Error("echo server closed the connection"));
    },
  });
  const template = new Uint8Array(payloadBytes).fill(0xab);
  return {
    engine: channel.engine,
    send(seq) {
      const lease = channel.allocate(payloadBytes);
      const bytes = lease.bytes;
      bytes.set(template);
      bytes[0] = seq;
      bytes[1] = seq >>> 8;
      bytes[2] = seq >>> 16;
      bytes[3] = seq >>> 24;
      channel.send(lease);
    },
    stats: () => ({ channel: channel.stats(), engine: engineStats(engine) }),
    close: async () => {
      closing = true;
      channel.close();
      await engine.close();
    },
  };
}
