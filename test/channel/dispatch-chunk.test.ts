// dispatchChunk on the io_uring engine: a burst of frames that arrives in one receive
// is handed to JS in chunks, and what JS answered to each chunk is submitted before the
// next chunk is handed over (so the peer gets the first answers early). Asserted through
// the engine's counters: JS callbacks (batches) and submissions during one burst.
import { connect, type Socket } from "node:net";
import { afterEach, expect, it } from "vitest";
import { UringEngine } from "../../src/channel/uring-engine.js";
import type { Channel } from "../../src/channel/channel.js";
import { gatedDescribe } from "../support/capability-gate.js";
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

gatedDescribe("dispatchChunk (io_uring)", uringUnavailable(), () => {
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

  it("a frame of a later chunk of the same receive slot can still be held, and stays intact", async () => {
    // Regression: the end of a chunk unpinned the slot being parsed, and the frames of
    // that slot still to come were not pinned again. The last one (64 = 21 × 3 + 1: frame
    // 63 goes to JS after the parse ended) then lay in a slot already given back to the
    // kernel: hold() failed with EINVAL. The last frame of every other burst is held, so
    // the slots of the bursts between are reused meanwhile.
    const engine = new UringEngine({ dispatchChunk: 3, region: { slotSize: 4096, recvSlots: 16 } });
    engines.push(engine);
    const held: { lease: { bytes: Uint8Array; release(): void }; seq: number }[] = [];
    const holdErrors: unknown[] = [];
    let seen = 0;
    let round = 0;
    let onBurst: (() => void) | undefined;
    const listener = await engine.listen("tcp://127.0.0.1:0", (channel: Channel) => ({
      onFrame(frame) {
        const seq = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0, true);
        try {
          if (round % 2 === 0 && seq === FRAMES - 1) held.push({ lease: channel.hold(frame), seq });
        } catch (e) {
          holdErrors.push(e);
        }
        if (++seen % FRAMES === 0) onBurst?.();
      },
      onClose() {},
    }));
    const port = Number(new URL(listener.url).port);
    const socket: Socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    for (round = 0; round < 20; round++) {
      const delivered = new Promise<void>((resolve) => (onBurst = resolve));
      socket.write(burst());
      await delivered;
    }
    socket.destroy();
    await listener.close();
    expect(holdErrors).toEqual([]);
    expect(held.length).toBe(10);
    for (const { lease, seq } of held) {
      const view = new DataView(lease.bytes.buffer, lease.bytes.byteOffset, lease.bytes.byteLength);
      expect(view.getUint32(0, true), "a held frame was overwritten").toBe(seq);
      lease.release();
    }
  });

  it("rejects a chunk outside [0, 4096]", () => {
    expect(() => new UringEngine({ dispatchChunk: -1 })).toThrow(RangeError);
    expect(() => new UringEngine({ dispatchChunk: 1.5 })).toThrow(/dispatchChunk/);
  });
});
