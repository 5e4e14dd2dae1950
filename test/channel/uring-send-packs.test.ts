// Send packs on io_uring (src/channel/send-pack.ts, native/uring/uring_engine.h): small
// frames sent with sendFrame() are written back to back into one lease per connection and
// handed to the ring as ranges of it. Asserted: bytes and order exact when small (packed)
// and large (own lease) frames and allocate()/send() interleave, also across two
// connections that alternate (every frame a range of its own: the shared table fills and
// is handed over early); one region lease per pack, not per frame; every lease back once
// written, after a close with a pack open, and when the peer is gone.
import { afterEach, expect, it } from "vitest";
import type { Channel } from "../../src/channel/channel.js";
import { PACK_BYTES, PACK_MAX_FRAME_BYTES } from "../../src/channel/send-pack.js";
import { UringEngine } from "../../src/channel/uring-engine.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { uringUnavailable } from "./engines.js";
import type { Inbox } from "./support/inbox.js";
import { firstDifference, pattern } from "./support/pattern.js";
import { type UringPair, uringPair } from "./support/uring-pair.js";

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

gatedDescribe("send packs (io_uring)", uringUnavailable(), () => {
  const engines: UringEngine[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });

  const pair = (connections = 1): Promise<UringPair> => uringPair(engines, connections);

  function sendPattern(channel: Channel, length: number, seed: number): void {
    const sent = channel.sendFrame!({ byteLength: length, write: (bytes) => bytes.set(pattern(length, seed)) });
    expect(sent).toBe(true);
  }

  function expectFrames(inbox: Inbox, sizes: number[], seedOf: (i: number) => number): void {
    expect(inbox.frames.map((f) => f.byteLength)).toEqual(sizes);
    sizes.forEach((size, i) => expect(firstDifference(inbox.frames[i]!, pattern(size, seedOf(i))), `frame ${i}`).toBe(-1));
  }

  it("small and large frames, sendFrame() and allocate()/send() mixed: bytes and order exact, one lease per pack", async () => {
    const { sender, channels, inboxes } = await pair();
    const channel = channels[0]!;
    const sizes: number[] = [];
    let seed = 0;
    for (let t = 0; t < 20; t++) {
      const before = sender.region.stats().liveLeases;
      for (let f = 0; f < 100; f++) {
        const size = f % 37 === 5 ? PACK_MAX_FRAME_BYTES + 1 + f : f % 11 === 3 ? 0 : 1 + ((f * 131 + t) % 300);
        if (f % 23 === 7) {
          const lease = channel.allocate(size);
          lease.bytes.set(pattern(size, seed));
          channel.send(lease);
        } else {
          sendPattern(channel, size, seed);
        }
        sizes.push(size);
        seed++;
      }
      // 100 frames: one lease per large (3) or allocate()d (5) frame, and packs for the small
      // ones — each whole-lease send ends the pack before it, so about one pack per run of
      // small frames between two of them (9 runs), a second where a run outgrew it; not one per frame.
      expect(sender.region.stats().liveLeases - before).toBeLessThanOrEqual(3 + 5 + 2 * 9);
      await turn();
    }
    await inboxes[0]!.count(sizes.length);
    expectFrames(inboxes[0]!, sizes, (i) => i);
    expect(sender.stats().framesOut).toBe(sizes.length);
    await until(() => sender.region.stats().liveLeases === 0, "every lease back");
  });

  it("a turn that fills several packs: frames exact across the pack boundaries", async () => {
    const { sender, channels, inboxes } = await pair();
    const size = 1000;
    const count = Math.ceil((3 * PACK_BYTES) / (size + 4)) + 7;
    const before = sender.region.stats().liveLeases;
    for (let i = 0; i < count; i++) sendPattern(channels[0]!, size, i);
    // Packs of 1004 B, 4 KiB, 16 KiB, then 32 KiB: 6 leases for ~100 KiB, not 107.
    expect(sender.region.stats().liveLeases - before).toBeLessThanOrEqual(6);
    await inboxes[0]!.count(count);
    expectFrames(inboxes[0]!, new Array<number>(count).fill(size), (i) => i);
    await until(() => sender.region.stats().liveLeases === 0, "every lease back");
  });

  it("two connections alternating (a range per frame, the table handed over early when full): each stream exact", async () => {
    const { sender, channels, inboxes } = await pair(2);
    const perConnection = 700; // 1400 ranges in one turn: the table (256) fills 5 times
    for (let i = 0; i < perConnection; i++) {
      sendPattern(channels[0]!, 16 + (i % 50), i);
      sendPattern(channels[1]!, 16 + (i % 50), 100_000 + i);
    }
    await Promise.all(inboxes.map((inbox) => inbox.count(perConnection)));
    const sizes = Array.from({ length: perConnection }, (_, i) => 16 + (i % 50));
    // The accept order is not the connect order: tell the inboxes apart by their first frame.
    const first = inboxes.findIndex((inbox) => firstDifference(inbox.frames[0]!, pattern(16, 0)) === -1);
    expect(first).toBeGreaterThanOrEqual(0);
    expectFrames(inboxes[first]!, sizes, (i) => i);
    expectFrames(inboxes[1 - first]!, sizes, (i) => 100_000 + i);
    await until(() => sender.region.stats().liveLeases === 0, "every lease back");
  });

  it("close() right after sendFrame(): the packed frames still leave, then the pack's lease comes back", async () => {
    const { sender, channels, inboxes } = await pair();
    for (let i = 0; i < 50; i++) sendPattern(channels[0]!, 64, i);
    channels[0]!.close();
    await inboxes[0]!.count(50);
    expectFrames(inboxes[0]!, new Array<number>(50).fill(64), (i) => i);
    await until(() => sender.region.stats().liveLeases === 0, "every lease back");
  });

  it("the peer is gone: packs written afterwards are dropped with the connection and their leases come back", async () => {
    const { sender, channels, inboxes } = await pair();
    const channel = channels[0]!;
    inboxes[0]!.channel = undefined;
    // The receiving engine closes the connection; the sender keeps writing until it hears.
    await engines[1]!.close();
    for (let i = 0; i < 200 && !channel.closed; i++) {
      try {
        channel.sendFrame!({ byteLength: 64, write: (bytes) => bytes.fill(i) });
      } catch {
        break; // closed between two frames
      }
      await turn();
    }
    await until(() => channel.closed, "the sender's close");
    await until(() => sender.region.stats().liveLeases === 0, "every lease back");
  });

  it("a writer that throws: nothing of that frame is sent, the frames around it are", async () => {
    const { channels, inboxes } = await pair();
    sendPattern(channels[0]!, 40, 1);
    expect(() => channels[0]!.sendFrame!({ byteLength: 40, write: () => { throw new Error("changed while written"); } })).toThrow(/changed while written/);
    sendPattern(channels[0]!, 40, 2);
    await inboxes[0]!.count(2);
    await turn();
    expectFrames(inboxes[0]!, [40, 40], (i) => i + 1);
  });
});
