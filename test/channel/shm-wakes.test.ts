// shm:// wake-ups (docs/CHANNELS.md §5.3): a side writes its peer's eventfd only for news
// the peer sleeps for. A reader giving ring space back does not wake a sender whose
// frames do not wait for room (before, every frame read cost the reader an eventfd
// write and the sender a wake-up); a sender whose frames do wait is still woken.
import { expect, it } from "vitest";
import { gatedDescribe } from "../support/capability-gate.js";
import { shmUnavailable } from "./shm-suite.js";
import { RegionKeepingEngine, shmPair } from "./support/shm-pair.js";
import { firstDifference, pattern } from "./support/pattern.js";

const RING = 64 * 1024;

const pair = () => shmPair(RING, new RegionKeepingEngine({ ringBytes: RING }));

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

gatedDescribe("shm: wake-ups", shmUnavailable(), () => {
  it("a reader that only gives ring space back never writes the sender's eventfd", async () => {
    const { engine, server, client, serverInbox } = await pair();
    const wakesBefore = server.stats().wakesSent;
    const wakeupsBefore = engine.stats().wakeups;
    // One frame per loop turn: the sender sets its sleep word before every poll of its
    // loop, and the reader returns each frame's space after its batch.
    for (let i = 0; i < 200; i++) {
      const lease = client.allocate(1000);
      lease.bytes.set(pattern(1000, i));
      client.send(lease);
      await turn();
    }
    await serverInbox.count(200);
    expect(serverInbox.frames.every((f, i) => firstDifference(f, pattern(1000, i)) === -1)).toBe(true);
    // The server sends nothing: it has no head to publish, only tails (was ~1 per frame).
    expect(server.stats().wakesSent - wakesBefore).toBe(0);
    expect(engine.stats().wakeups - wakeupsBefore).toBe(0);
  });

  it("a sender whose frames wait for room sleeps for tails too; with none waiting, for heads only", async () => {
    const { engine, client, serverInbox } = await pair();
    // The client's (side 1) sleep word, in its region's control page (shm_ring.h).
    expect(engine.regions.size).toBe(1);
    const region = [...engine.regions.values()][0]!;
    const clientSleepWord = (): number => region.getUint32(64 * 6, true);
    // The reader holds every frame: the 64 KiB ring fills, the rest queue for room.
    const held: { release(): void }[] = [];
    serverInbox.hook = (frame, channel) => held.push(channel!.hold(frame));
    const frames = Array.from({ length: 40 }, (_, i) => pattern(4000, i));
    for (const bytes of frames) {
      const lease = client.allocate(bytes.length);
      lease.bytes.set(bytes);
      client.send(lease);
    }
    await serverInbox.count(15);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(serverInbox.frames.length).toBeLessThan(40);
    expect(clientSleepWord(), "frames queued: wake me for a tail (kSleepForAll)").toBe(1);
    serverInbox.hook = undefined;
    for (const lease of held.splice(0)) lease.release();
    await serverInbox.count(40);
    expect(serverInbox.frames.map((f, i) => firstDifference(f, frames[i]!))).toEqual(frames.map(() => -1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(clientSleepWord(), "nothing queued: wake me for a head only (kSleepForFrames)").toBe(2);
  });
});
