// Receive slots of the io_uring engine. Starvation: every receive slot held by JS ends
// the multishot recv with ENOBUFS, and receiving resumes once slots come back — frames
// byte-exact and in order; a connection stalled for lack of a lease (its recv paused) is
// not re-armed by that ENOBUFS, so it cannot take the slots another connection needs.
// Holds: a zero-length frame whose header ends a full slot is held in that slot.
// Peers are raw node:net sockets writing [u32 LE length][body] frames.

import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { UringEngine } from "../../src/channel/uring-engine.js";
import type { Channel, Lease } from "../../src/channel/channel.js";
import type { RegionLease } from "../../src/region.js";
import { uringUnavailable } from "./engines.js";

const unavailable = uringUnavailable();

/** Frame `seq` of `length` body bytes, header included; its body is a function of seq. */
function frame(seq: number, length: number): Buffer {
  const b = Buffer.alloc(4 + length);
  b.writeUInt32LE(length, 0);
  for (let i = 0; i < length; i++) b[4 + i] = (seq * 31 + i) & 0xff;
  return b;
}

function bodyOf(seq: number, length: number): Buffer {
  return frame(seq, length).subarray(4);
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

interface Accepted {
  channel: Channel;
  frames: Buffer[];
  held: Lease[];
}

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A small-slotted engine listening; every accepted channel records (and maybe holds) its frames. */
async function serve(region: { slotSize: number; recvSlots: number; leaseBytes: number }) {
  const engine = new UringEngine({ region });
  cleanup.push(() => engine.close());
  const accepted: Accepted[] = [];
  let holding = true;
  const listener = await engine.listen("tcp://127.0.0.1:0", (channel) => {
    const entry: Accepted = { channel, frames: [], held: [] };
    accepted.push(entry);
    return {
      onFrame(f) {
        entry.frames.push(Buffer.from(f));
        if (holding) entry.held.push(channel.hold(f));
      },
      onClose() {},
    };
  });
  const port = Number(/:(\d+)$/.exec(listener.url)![1]);
  const connect = async (): Promise<net.Socket> => {
    const before = accepted.length;
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => undefined);
    cleanup.push(() => socket.destroy());
    await until(() => accepted.length > before, "the accept");
    return socket;
  };
  return { engine, accepted, connect, setHolding: (on: boolean) => (holding = on) };
}

describe.skipIf(unavailable !== undefined && process.env.CI !== "true")("uring receive slots", () => {
  it("has io_uring", () => {
    expect(unavailable, "CI=true: a missing capability is a failure").toBeUndefined();
  });

  it("every slot held: the recv ends with ENOBUFS, and resumes once the slots are released", async () => {
    const { engine, accepted, connect, setHolding } = await serve({ slotSize: 4096, recvSlots: 8, leaseBytes: 1 << 20 });
    const socket = await connect();
    const server = accepted[0]!;
    const count = 400;
    socket.write(Buffer.concat(Array.from({ length: count }, (_, seq) => frame(seq, 200))));
    await until(() => engine.stats().bufferStarvations >= 1, "an ENOBUFS recv completion");
    const before = server.frames.length;
    expect(before).toBeLessThan(count);
    // Nothing moves while every slot is held.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.frames.length).toBe(before);

    setHolding(false);
    for (const lease of server.held.splice(0)) lease.release();
    await until(() => server.frames.length === count, "every frame");
    server.frames.forEach((f, seq) => expect(f.equals(bodyOf(seq, 200)), `frame ${seq}`).toBe(true));
    expect(engine.stats().bufferStarvations).toBeGreaterThanOrEqual(1);
  });

  it("a connection stalled for a lease is not re-armed by its ENOBUFS: another connection gets the released slots", async () => {
    const { engine, accepted, connect, setHolding } = await serve({ slotSize: 4096, recvSlots: 8, leaseBytes: 256 * 1024 });
    const stalledPeer = await connect();
    const otherPeer = await connect();
    const [stalled, other] = [accepted[0]!, accepted[1]!];

    // The other connection holds 4 slots (one frame per recv completion, each held).
    for (let seq = 0; seq < 4; seq++) {
      otherPeer.write(frame(seq, 100));
      await until(() => other.frames.length === seq + 1, `held frame ${seq}`);
    }
    setHolding(false);
    // No lease free: a frame that straddles slots cannot be reassembled.
    const leases: RegionLease[] = [];
    for (let lease = engine.region.tryAllocate(1024); lease; lease = engine.region.tryAllocate(1024)) leases.push(lease);

    // The stalled connection's big frame fills the 4 free slots and its recv meets ENOBUFS.
    const big = 64 * 1024;
    stalledPeer.write(Buffer.concat([frame(100, big), frame(101, 10), frame(102, 20)]));
    await until(() => engine.stats().bufferStarvations >= 1, "the stalled connection's ENOBUFS");

    // Slots come back; a few loop turns let the engine re-arm whatever it would re-arm.
    for (const lease of other.held.splice(0)) lease.release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (let seq = 4; seq < 7; seq++) otherPeer.write(frame(seq, 100));
    await until(() => other.frames.length === 7, "the other connection's frames while the stalled one waits");
    other.frames.forEach((f, seq) => expect(f.equals(bodyOf(seq, 100)), `other frame ${seq}`).toBe(true));
    expect(stalled.frames).toHaveLength(0);

    // Leases come back: the stalled connection resumes where it stopped.
    for (const lease of leases) lease.release();
    await until(() => stalled.frames.length === 3, "the stalled connection's frames");
    expect(stalled.frames.map((f) => f.length)).toEqual([big, 10, 20]);
    stalled.frames.forEach((f, i) => expect(f.equals(bodyOf(100 + i, f.length)), `stalled frame ${i}`).toBe(true));
    expect(engine.stats().bufferStarvations).toBeGreaterThanOrEqual(1);
  });

  it("hold() of a zero-length frame that ends a full slot pins that slot", async () => {
    const { engine, accepted, connect, setHolding } = await serve({ slotSize: 4096, recvSlots: 8, leaseBytes: 1 << 20 });
    const socket = await connect();
    const server = accepted[0]!;
    // 4092 + 4 bytes: one recv fills the slot exactly; the empty frame's header ends it.
    socket.write(Buffer.concat([frame(0, 4088), frame(1, 0)]));
    await until(() => server.frames.length === 2, "both frames");
    expect(server.frames.map((f) => f.length)).toEqual([4088, 0]);
    expect(server.frames[0]!.equals(bodyOf(0, 4088))).toBe(true);
    expect(server.held).toHaveLength(2);
    expect(server.held.map((lease) => lease.bytes.byteLength)).toEqual([4088, 0]);
    setHolding(false);
    for (const lease of server.held.splice(0)) lease.release();
    // The slots came back: traffic goes on (a wrong pin would leave one held forever or
    // release a slot still in use).
    for (let seq = 2; seq < 40; seq++) socket.write(frame(seq, 3000));
    await until(() => server.frames.length === 40, "the frames after");
    server.frames.slice(2).forEach((f, i) => expect(f.equals(bodyOf(i + 2, 3000)), `frame ${i + 2}`).toBe(true));
    expect(engine.region.stats().liveLeases).toBe(0);
  });
});
