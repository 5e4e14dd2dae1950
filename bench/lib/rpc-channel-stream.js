// The stream workload's floor: the same one-way flow of fixed-size messages, on our raw
// channel API with no Connect, no protocol frame and no protobuf — what the engine and
// one JS callback per frame cost. The server sends `payloadBytes`-byte frames as fast as
// the channel takes them (allocate, fill from a template, send; 256 per event-loop turn,
// waiting for space when the region or the connection's share is full); the client
// counts them in onFrame through the same StreamMeter the Connect drivers use.
// Imports ../../dist, so `npx tsc` must have run.
import { StreamMeter } from "./rpc-load.js";

/** Frames sent per event-loop turn: enough to fill a batch, small enough to let receives in. */
const FRAMES_PER_TURN = 256;

async function createEngine(driver) {
  const { UringEngine } = await import("../../dist/channel/uring-engine.js");
  return new UringEngine({ poll: driver.poll });
}

function channelUrl(address) {
  return address.startsWith("/") ? `unix://${address}` : `tcp://${address}`;
}

/** Sends frames of `size` bytes on `channel` until it closes. */
function pump(channel, size) {
  const template = new Uint8Array(size).fill(0xab);
  const turn = () => {
    for (let i = 0; i < FRAMES_PER_TURN && !channel.closed; i++) {
      let lease;
      try {
        lease = channel.allocate(size);
      } catch (error) {
        if (error.code !== "ERR_REGION_FULL") throw error;
        channel.waitForSpace(size, 60_000).then(turn, () => channel.close(true));
        return;
      }
      lease.bytes.set(template);
      channel.send(lease);
    }
    if (!channel.closed) setImmediate(turn);
  };
  turn();
}

/** A server: the first frame a client sends (u32 LE: the message size) starts its stream. */
export async function startServer(driver, address) {
  const engine = await createEngine(driver);
  let lastStats;
  const listener = await engine.listen(channelUrl(address), (channel) => ({
    onFrame(frame) {
      pump(channel, (frame[0] | (frame[1] << 8) | (frame[2] << 16) | (frame[3] << 24)) >>> 0);
    },
    onClose() {
      lastStats = channel.stats();
    },
  }));
  return {
    endpoint: listener.url,
    engine: engine.name,
    stats: () => lastStats,
    close: async () => {
      await listener.close();
      await engine.close();
    },
  };
}

/** A client whose measureStream() asks for the stream and meters it frame by frame. */
export async function createCaller(driver, endpoint) {
  const engine = await createEngine(driver);
  let onFrame = () => {};
  let onClose = () => {};
  const channel = await engine.connect(endpoint, {
    onFrame: (frame) => onFrame(frame),
    onClose: (error) => onClose(error),
  });
  return {
    engine: channel.engine,
    stats: () => channel.stats(),
    measureStream({ payloadBytes, ...window }) {
      const meter = new StreamMeter({ payloadBytes, stats: () => channel.stats(), ...window });
      return new Promise((resolve, reject) => {
        onFrame = (frame) => {
          if (frame.length !== payloadBytes) reject(new Error(`a ${frame.length}-byte frame, expected ${payloadBytes}`));
          else if (meter.count(frame.length)) resolve(meter.result());
        };
        onClose = (error) => reject(error ?? new Error("the server closed the stream before the measured window closed"));
        const start = channel.allocate(4);
        new DataView(start.bytes.buffer, start.bytes.byteOffset, 4).setUint32(0, payloadBytes, true);
        channel.send(start);
      });
    },
    close: async () => {
      onClose = () => {};
      channel.close(true);
      await engine.close();
    },
  };
}
