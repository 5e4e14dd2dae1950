// The RDMA engine's READ targets count against the connection's share (maxUnsentBytes;
// native/common/reassembly_share.h, docs/LIMITS.md): a frame larger than the receive slot
// arrives as a READ_REQUEST and takes a lease before its READs are paced. A peer that
// sends many such frames at once gets leases for what its share admits plus the engine's
// one over-share frame; the other READ_REQUESTs wait (the sender's leases stay exported)
// until delivered frames stop counting. Checked through the engine's READ-target counters:
// their peak stays within one share plus one over-share frame, frames larger than the
// share still pass (one at a time through the over-share place), and every frame arrives
// intact and in order while the receiver holds the delivered ones.
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

  it("a burst of READ_REQUESTs holds at most one share plus one over-share frame in leases; all frames arrive intact and in order", async () => {
    const server = new RdmaEngine({ maxUnsentBytes: SHARE, region: { slotSize: SLOT, leaseBytes: 16 * 1024 * KiB } });
    const client = clientEngine({ region: { slotSize: SLOT, leaseBytes: 16 * 1024 * KiB } });
    cleanup.push(() => server.close(), () => client.close());

    const held: Lease[] = [];
    let serverChannel: Channel | undefined;
    const inbox = new Inbox();
    // The receiver holds every delivered frame: held leases are JS's, outside the share.
    inbox.hook = (frame, channel) => held.push(channel!.hold(frame));
    const listener = await server.listen(serverUrl(), (channel) => {
      serverChannel = channel;
      inbox.channel = channel;
      return inbox;
    });
    const clientChannel = await client.connect(listener.url, new Inbox());
    await eventually(() => serverChannel !== undefined, "the server accepted");

    const sizes = Array.from({ length: FRAMES }, (_, i) => (i % 8 === 3 ? LARGE : SMALL));
    const reads0 = server.stats().reads;
    // All at once: the sender's credits let a burst of READ_REQUESTs reach the server together.
    await Promise.all(sizes.map((size, i) => sendBytes(clientChannel, pattern(size, i + 1))));
    await inbox.count(FRAMES, 60_000);

    expect(inbox.frames.map((frame) => frame.byteLength)).toEqual(sizes);
    inbox.frames.forEach((frame, i) => expect(firstDifference(frame, pattern(sizes[i]!, i + 1)), `frame ${i}`).toBe(-1));
    // The held leases still hold their frames (no later READ landed in them).
    expect(held.map((lease, i) => firstDifference(lease.bytes, pattern(sizes[i]!, i + 1)))).toEqual(sizes.map(() => -1));

    const stats = server.stats();
    const unit = stats.region.leaseUnit;
    expect(stats.reads - reads0, "every frame came by READ").toBe(FRAMES);
    // The bound: one share (the server sends nothing, so all of it) plus one over-share frame.
    expect(stats.readTargetBytesPeak).toBeGreaterThan(0);
    expect(stats.readTargetBytesPeak).toBeLessThanOrEqual(SHARE + leaseBytes(LARGE, unit));
    // Every LARGE frame went through the over-share place, and so did SMALL ones the share had no room for.
    expect(stats.overShareReads).toBeGreaterThanOrEqual(sizes.filter((size) => size === LARGE).length);
    // Delivered frames stop counting: nothing is counted once all arrived.
    expect(stats.readTargetBytes).toBe(0);
    for (const lease of held) lease.release();
  });

  rnrCountersStayZero();
});
