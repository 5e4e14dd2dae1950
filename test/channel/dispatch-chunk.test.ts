// dispatchChunk on the io_uring engine: a burst of frames that arrives in one receive
// is handed to JS in chunks, and what JS answered to each chunk is submitted before the
// next chunk is handed over (so the peer gets the first answers early). Asserted through
// the engine's counters: JS callbacks (batches) and submissions during one burst.
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { UringEngine } from "../../src/channel/uring-engine.js";
import type { Channel } from "../../src/channel/channel.js";
import { uringUnavailable } from "./engines.js";

const FRAMES = 64;
const BODY = 8;

function burst(): Buffer {
  const out = Buffer.alloc(FRAMES * (4 + BODY));
  for (let i = 0; i < FRAMES; i++) {
    out.writeUInt32LE(BODY, i * (4 + BODY));
    out.writeUInt32LE(i, i * (4 + BODY) + 4);
  }
  return out;
}

/** Echo server on `engine`; one raw socket sends the burst in one write and reads all echoes. */
async function echoBurst(engine: UringEngine): Promise<{ batches: number; submits: number; order: number[] }> {
  const listener = await engine.listen("tcp://127.0.0.1:0", (channel: Channel) => ({
    onFrame(frame) {
      const lease = channel.allocate(frame.length);
      lease.bytes.set(frame);
      channel.send(lease);
    },
    onClose() {},
  }));
  const port = Number(new URL(listener.url).port);
  const socket: Socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  socket.setNoDelay(true);
  // Let the accept settle so the burst is the only thing in the counters.
  await new Promise((r) => setTimeout(r, 50));
  const before = engine.stats();
  const expected = FRAMES * (4 + BODY);
  const received: Buffer[] = [];
  let got = 0;
  const done = new Promise<void>((resolve) => {
    socket.on("data", (chunk) => {
      received.push(chunk);
      got += chunk.length;
      if (got >= expected) resolve();
    });
  });
  socket.write(burst());
  await done;
  const after = engine.stats();
  socket.destroy();
  await listener.close();
  const all = Buffer.concat(received);
  const order = Array.from({ length: FRAMES }, (_, i) => all.readUInt32LE(i * (4 + BODY) + 4));
  return { batches: after.batches - before.batches, submits: after.submits - before.submits, order };
}

const unavailable = uringUnavailable();
if (unavailable) console.warn(`[skip] dispatch-chunk: ${unavailable}`);

describe.skipIf(unavailable !== undefined)("dispatchChunk (io_uring)", () => {
  const engines: UringEngine[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });

  it("hands a 64-frame burst to JS in chunks of 4 and submits the answers after each", async () => {
    const engine = new UringEngine({ dispatchChunk: 4 });
    engines.push(engine);
    const { batches, submits, order } = await echoBurst(engine);
    expect(order).toEqual(Array.from({ length: FRAMES }, (_, i) => i));
    expect(batches, "JS callbacks for the burst").toBeGreaterThanOrEqual(FRAMES / 4);
    expect(submits, "submissions for the burst").toBeGreaterThanOrEqual(FRAMES / 4 - 1);
  });

  it("with dispatchChunk 0, the same burst goes to JS in one callback per receive", async () => {
    const engine = new UringEngine({ dispatchChunk: 0 });
    engines.push(engine);
    const { batches, order } = await echoBurst(engine);
    expect(order).toEqual(Array.from({ length: FRAMES }, (_, i) => i));
    expect(batches, "JS callbacks for the burst (one write, normally one receive)").toBeLessThan(FRAMES / 4);
  });

  it("rejects a chunk outside [0, 4096]", () => {
    expect(() => new UringEngine({ dispatchChunk: -1 })).toThrow(RangeError);
    expect(() => new UringEngine({ dispatchChunk: 1.5 })).toThrow(/dispatchChunk/);
  });
});
