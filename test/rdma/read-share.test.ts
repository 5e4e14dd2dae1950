// The RDMA engine's READ targets count against the connection's share (maxUnsentBytes;
// native/common/reassembly_share.h, docs/LIMITS.md): a frame larger than the receive slot
// arrives as a READ_REQUEST and takes a lease before its READs are paced. A peer that
// sends many such frames at once gets leases for what its share admits plus the engine's
// one over-share frame; the other READ_REQUESTs wait (the sender's leases stay exported)
// until delivered frames stop counting. Checked through the engine's READ-target counters,
// for one connection and for two bursting at once: their peak stays within one share per
// connection plus one over-share frame, frames larger than the share still pass (one at a
// time per engine, through the over-share place), and every frame arrives intact and in
// order while the receiver holds the delivered ones.
// Runs inside the soft-RoCE guest; skipped with the reason printed elsewhere.
import { afterEach, expect, it, vi } from "vitest";
import type { Channel, Lease } from "../../src/channel/channel.js";
import { RDMA_MESSAGE_HEADER_BYTES } from "../../src/channel/frame-headers.js";
import { RdmaEngine } from "../../src/channel/rdma-engine.js";
import { Inbox, sendBytes } from "../channel/support/inbox.js";
import { firstDifference, pattern } from "../channel/support/pattern.js";
import { clientEngine, eventually, rdmaDescribe, rnrCountersStayZero, serverUrl } from "./support/rdma-env.js";

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

const KiB = 1024;
const SLOT = 4 * KiB;
const SHARE = 96 * KiB;
const SMALL = 40 * KiB; // two fit the share; the third does not
const LARGE = 160 * KiB; // larger than the share: only ever through the over-share place
const FRAMES = 40;

/** Lease bytes a frame of `length` body bytes takes (its RDMA header included, whole units). */
function leaseBytes(length: number, unit: number): number {
  return Math.ceil((length + RDMA_MESSAGE_HEADER_BYTES) / unit) * unit;
}

rdmaDescribe("rdma READ targets within the connection's share", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  const REGION = { slotSize: SLOT, leaseBytes: 16 * 1024 * KiB };
  const sizes = Array.from({ length: FRAMES }, (_, i) => (i % 8 === 3 ? LARGE : SMALL));

  /** One accepted connection: its frames (copies, in the Inbox) and the leases the receiver holds. */
  interface Receiver {
    inbox: Inbox;
    held: Lease[];
  }

  /** A server engine with a small share, a client engine, and `count` connections between them. */
  async function connections(count: number) {
    const server = new RdmaEngine({ maxUnsentBytes: SHARE, region: REGION });
    const client = clientEngine({ region: REGION });
    const receivers: Receiver[] = [];
    cleanup.push(
      async () => {
        for (const receiver of receivers) for (const lease of receiver.held) if (!lease.released) lease.release();
        await server.close();
      },
      () => client.close(),
    );
    const listener = await server.listen(serverUrl(), (channel) => {
      const receiver: Receiver = { inbox: new Inbox(), held: [] };
      receiver.inbox.channel = channel;
      // The receiver holds every delivered frame: held leases are JS's, outside the share.
      receiver.inbox.hook = (frame) => receiver.held.push(channel.hold(frame));
      receivers.push(receiver);
      return receiver.inbox;
    });
    const senders: Channel[] = [];
    for (let i = 0; i < count; i++) {
      senders.push(await client.connect(listener.url, new Inbox()));
      await eventually(() => receivers.length === i + 1, `the server accepted connection ${i + 1}`);
    }
    return { server, senders, receivers };
  }

  /** Sends every frame of `sizes` at once: the sender's credits let a burst of READ_REQUESTs through together. */
  function burst(sender: Channel, seed: number): Promise<void[]> {
    return Promise.all(sizes.map((size, i) => sendBytes(sender, pattern(size, seed + i))));
  }

  /** Every frame arrived intact, in order, and the held leases still hold theirs (no later READ landed there). */
  async function arrivedInOrder(receiver: Receiver, seed: number): Promise<void> {
    await receiver.inbox.count(FRAMES, 60_000);
    expect(receiver.inbox.frames.map((frame) => frame.byteLength)).toEqual(sizes);
    receiver.inbox.frames.forEach((frame, i) => expect(firstDifference(frame, pattern(sizes[i]!, seed + i)), `frame ${i}`).toBe(-1));
    expect(receiver.held.map((lease, i) => firstDifference(lease.bytes, pattern(sizes[i]!, seed + i)))).toEqual(sizes.map(() => -1));
  }

  /** The server's READ-target counters after all frames of `connectionCount` bursts arrived. */
  function expectWithinShares(server: RdmaEngine, connectionCount: number, reads0: number): void {
    const stats = server.stats();
    expect(stats.reads - reads0, "every frame came by READ").toBe(FRAMES * connectionCount);
    // The bound: one share per connection (the server sends nothing, so all of it) plus the engine's one over-share frame.
    expect(stats.readTargetBytesPeak).toBeGreaterThan(0);
    expect(stats.readTargetBytesPeak).toBeLessThanOrEqual(connectionCount * SHARE + leaseBytes(LARGE, stats.region.leaseUnit));
    // Every LARGE frame went through the over-share place (SMALL ones the share had no room for too).
    expect(stats.overShareReads).toBeGreaterThanOrEqual(connectionCount * sizes.filter((size) => size === LARGE).length);
    // Delivered frames stop counting: nothing is counted once all arrived.
    expect(stats.readTargetBytes).toBe(0);
  }

  it("a burst of READ_REQUESTs holds at most one share plus one over-share frame in leases; all frames arrive intact and in order", async () => {
    const { server, senders, receivers } = await connections(1);
    const reads0 = server.stats().reads;
    await burst(senders[0]!, 1);
    await arrivedInOrder(receivers[0]!, 1);
    expectWithinShares(server, 1, reads0);
  });

  it("two connections bursting at once share the one over-share place: at most two shares plus one over-share frame", async () => {
    const { server, senders, receivers } = await connections(2);
    const reads0 = server.stats().reads;
    await Promise.all([burst(senders[0]!, 1), burst(senders[1]!, 1001)]);
    await arrivedInOrder(receivers[0]!, 1);
    await arrivedInOrder(receivers[1]!, 1001);
    expectWithinShares(server, 2, reads0);
  });

  rnrCountersStayZero();
});
