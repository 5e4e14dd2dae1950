// shm:// send in place (docs/CHANNELS.md §5.2, "Send"): allocate() hands out a record of
// the connection's outgoing ring when the ring has room and nothing waits before it, and
// a region lease otherwise (copied into the ring at send). Checks what crosses, in which
// order, and what ShmEngine.stats() counts (framesInPlace: no copy; sendCopies: copies;
// bytesOut and the peer's bytesIn: the frames' bytes).
import { expect, it } from "vitest";
import type { Channel, Lease } from "../../src/channel/channel.js";
import { ShmEngine } from "../../src/channel/shm-engine.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { shmUnavailable } from "./shm-suite.js";
import type { Inbox } from "./support/inbox.js";
import { shmPair } from "./support/shm-pair.js";
import { firstDifference, pattern } from "./support/pattern.js";

const RING = 64 * 1024;

const pair = () => shmPair(RING);

/** True when the lease is ring space (the connection's mapping), false for a region lease. */
function inRing(engine: ShmEngine, lease: Lease): boolean {
  const buffer = lease.bytes.buffer;
  if (buffer === engine.region.buffer) return false;
  expect(buffer.byteLength).toBe(4096 + 2 * RING);
  return true;
}

function filled(client: Channel, engine: ShmEngine, bytes: Uint8Array, expectInRing: boolean): Lease {
  const lease = client.allocate(bytes.length);
  expect(inRing(engine, lease)).toBe(expectInRing);
  lease.bytes.set(bytes);
  return lease;
}

function counted(engine: ShmEngine) {
  const s = engine.stats();
  return { inPlace: s.framesInPlace, copies: s.sendCopies };
}

async function expectFrames(inbox: Inbox, expected: Uint8Array[]): Promise<void> {
  await inbox.count(expected.length);
  expect(inbox.frames.map((f, i) => firstDifference(f, expected[i] ?? new Uint8Array(0)))).toEqual(expected.map(() => -1));
}

gatedDescribe("shm: frames written in place", shmUnavailable(), () => {
  it("allocate() hands out ring space; the frame crosses with no copy, and a shorter send() sends a prefix", async () => {
    const { engine, server, client, serverInbox } = await pair();
    const before = counted(engine);
    const bytesBefore = { out: engine.stats().bytesOut, in: server.stats().bytesIn };
    client.send(filled(client, engine, pattern(300, 1), true));
    const prefix = filled(client, engine, pattern(200, 2), true);
    client.send(prefix, 77);
    client.send(filled(client, engine, pattern(5, 3), true));
    await expectFrames(serverInbox, [pattern(300, 1), pattern(200, 2).subarray(0, 77), pattern(5, 3)]);
    expect(counted(engine)).toEqual({ inPlace: before.inPlace + 3, copies: before.copies });
    expect({ out: engine.stats().bytesOut, in: server.stats().bytesIn }, "frame bytes counted by both engines").toEqual({
      out: bytesBefore.out + 300 + 77 + 5,
      in: bytesBefore.in + 300 + 77 + 5,
    });
  });

  it("a second allocate() while a ring lease is unsent gets a region lease; frames leave in send() order", async () => {
    const { engine, client, serverInbox } = await pair();
    const before = counted(engine);
    // Sent in allocation order: the ring lease in place, the region lease copied once.
    const a = filled(client, engine, pattern(100, 1), true);
    const b = filled(client, engine, pattern(50, 2), false);
    client.send(a);
    client.send(b);
    await expectFrames(serverInbox, [pattern(100, 1), pattern(50, 2)]);
    expect(counted(engine)).toEqual({ inPlace: before.inPlace + 1, copies: before.copies + 1 });
    // Sent the other way round: the ring lease moves behind the frame sent before it (two copies).
    const c = filled(client, engine, pattern(100, 3), true);
    const d = filled(client, engine, pattern(50, 4), false);
    client.send(d);
    client.send(c);
    client.send(filled(client, engine, pattern(10, 5), true));
    await expectFrames(serverInbox, [pattern(100, 1), pattern(50, 2), pattern(50, 4), pattern(100, 3), pattern(10, 5)]);
    expect(counted(engine)).toEqual({ inPlace: before.inPlace + 2, copies: before.copies + 4 });
  });

  it("a ring lease released unsent never reaches the peer, and frames sent behind it go once it is released", async () => {
    const { engine, client, serverInbox } = await pair();
    const dropped = filled(client, engine, pattern(1000, 1), true);
    dropped.release();
    dropped.release();
    expect(() => client.send(dropped)).toThrow(expect.objectContaining({ code: "ERR_LEASE_RELEASED" }));
    client.send(filled(client, engine, pattern(30, 2), true));
    await expectFrames(serverInbox, [pattern(30, 2)]);
    // A frame sent while a ring lease is open waits for it; the release lets it go.
    const open = filled(client, engine, pattern(2000, 3), true);
    client.send(filled(client, engine, pattern(40, 4), false));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(serverInbox.frames).toHaveLength(1);
    open.release();
    client.send(filled(client, engine, pattern(50, 5), true));
    await expectFrames(serverInbox, [pattern(30, 2), pattern(40, 4), pattern(50, 5)]);
    expect(client.closed).toBe(false);
  });

  it("a full ring: allocate() falls back to region leases (copied once room comes), every frame arrives in order", async () => {
    const { engine, client, serverInbox } = await pair();
    const before = counted(engine);
    const frames = Array.from({ length: 40 }, (_, i) => pattern(4000, i));
    // One turn: the peer reads nothing before it ends, so the ring (64 KiB) fills after 16.
    const where = frames.map((bytes) => {
      const lease = client.allocate(bytes.length);
      const ring = inRing(engine, lease);
      lease.bytes.set(bytes);
      client.send(lease);
      return ring;
    });
    const firstCopied = where.indexOf(false);
    expect(firstCopied).toBeGreaterThanOrEqual(8);
    expect(where.slice(0, firstCopied).every(Boolean)).toBe(true);
    // Once a frame waits, every later one queues behind it (never in the ring before it).
    expect(where.slice(firstCopied).some(Boolean)).toBe(false);
    await expectFrames(serverInbox, frames);
    expect(counted(engine)).toEqual({ inPlace: before.inPlace + firstCopied, copies: before.copies + 40 - firstCopied });
    // Room again: the next frame is written in place.
    client.send(filled(client, engine, pattern(8, 99), true));
    await serverInbox.count(41);
  });
});
