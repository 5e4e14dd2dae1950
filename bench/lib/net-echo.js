// Raw node:net echo with the same framing as our channels (4-byte little-endian length,
// then the body): the floor for Node sockets. Written the way a careful Node programmer
// would: NODELAY, one write per received chunk on the server, replies of one chunk
// answered under cork() on the client so they leave in one writev (driver.cork: false
// writes each request on its own, as the baselines' client did).
import net from "node:net";

const HEADER_BYTES = 4;

/** Ends of the complete frames in `buf` from 0: the byte offset after the last one. */
function completeFramesEnd(buf) {
  let pos = 0;
  while (buf.length - pos >= HEADER_BYTES) {
    const end = pos + HEADER_BYTES + buf.readUInt32LE(pos);
    if (end > buf.length) break;
    pos = end;
  }
  return pos;
}

/** Turns a stream of chunks into calls of onFrames(buf, end) for whole frames only. */
function framer(onFrames) {
  let pending = null;
  return (chunk) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    const end = completeFramesEnd(buf);
    if (end > 0) onFrames(buf, end);
    pending = end < buf.length ? buf.subarray(end) : null;
  };
}

/** Parses "host:port" or a Unix socket path into net.connect/listen options. */
function socketOptions(address) {
  if (address.startsWith("/")) return { path: address };
  const colon = address.lastIndexOf(":");
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

/** An echo server: every complete frame goes back as it came, one write per chunk. */
export async function startServer(_driver, address) {
  let chunksIn = 0;
  let bytesIn = 0;
  const sockets = new Set();
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.on(
      "data",
      framer((buf, end) => {
        bytesIn += end;
        chunksIn++;
        socket.write(end === buf.length ? buf : buf.subarray(0, end));
      }),
    );
  });
  const options = socketOptions(address);
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.path ?? { host: options.host, port: options.port }, resolve);
  });
  const bound = server.address();
  const endpoint = typeof bound === "string" ? bound : `${bound.address}:${bound.port}`;
  return {
    endpoint,
    engine: "node:net",
    stats: () => ({ chunksIn, bytesIn }),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A client: send(seq) writes one frame whose body starts with seq (u32 LE); onReply(seq)
 * is called for every echoed frame, in order.
 */
export async function connectClient(driver, endpoint, { payloadBytes, onReply, onError }) {
  const cork = driver.cork !== false;
  const socket = net.connect(socketOptions(endpoint));
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", onError);
  socket.on("close", () => onError(new Error("echo server closed the connection")));
  const template = Buffer.alloc(HEADER_BYTES + payloadBytes, 0xab);
  template.writeUInt32LE(payloadBytes, 0);
  let chunksIn = 0;
  socket.on(
    "data",
    framer((buf, end) => {
      chunksIn++;
      if (cork) socket.cork();
      for (let pos = 0; pos < end; pos += HEADER_BYTES + buf.readUInt32LE(pos)) {
        onReply(buf.readUInt32LE(pos + HEADER_BYTES));
      }
      if (cork) socket.uncork();
    }),
  );
  return {
    engine: "node:net",
    send(seq) {
      const frame = Buffer.allocUnsafe(template.length);
      template.copy(frame);
      frame.writeUInt32LE(seq >>> 0, HEADER_BYTES);
      socket.write(frame);
    },
    stats: () => ({ chunksIn }),
    close: async () => {
      socket.removeAllListeners("close");
      socket.destroy();
    },
  };
}
