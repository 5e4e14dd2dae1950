// shm:// hot span (native/shm/shm_ring.h, RingWriter): a writer whose reader keeps up goes
// back to the ring's start once past its first quarter (at most 1 MiB), so a stream
// writes the same cache-hot bytes again and again instead of cycling the whole ring;
// a reader far behind still gets the whole ring.
import { expect, it } from "vitest";
import { gatedDescribe } from "../support/capability-gate.js";
import { shmUnavailable } from "./shm-suite.js";
import { shmPair } from "./support/shm-pair.js";
import { firstDifference, pattern } from "./support/pattern.js";

const RING = 1024 * 1024;
const HOT_SPAN = RING / 4;
const CONTROL = 4096;

async function pair() {
  const { client, serverInbox } = await shmPair(RING);
  // Where each frame sits in the client's ring (ring 1, after ring 0).
  const positions: number[] = [];
  serverInbox.hook = (frame) => positions.push(frame.byteOffset - CONTROL - RING);
  return { client, serverInbox, positions };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

gatedDescribe("shm: the writer's hot span", shmUnavailable(), () => {
  it("a reader that keeps up is written within the ring's first quarter (plus one frame)", async () => {
    const { client, serverInbox, positions } = await pair();
    const frames = Array.from({ length: 400 }, (_, i) => pattern(10_000, i));
    // 4 MB through a 1 MiB ring, a few frames per loop turn.
    for (let i = 0; i < frames.length; i++) {
      const lease = client.allocate(frames[i]!.length);
      lease.bytes.set(frames[i]!);
      client.send(lease);
      if (i % 4 === 3) await turn();
    }
    await serverInbox.count(frames.length);
    expect(serverInbox.frames.map((f, i) => firstDifference(f, frames[i]!))).toEqual(frames.map(() => -1));
    // Before the hot span every position of the ring was used in turn.
    expect(Math.max(...positions)).toBeLessThan(HOT_SPAN + 10_008);
    expect(positions.filter((p) => p === 8).length).toBeGreaterThan(5);
  });

  it("a reader far behind still gets the whole ring", async () => {
    const { client, serverInbox, positions } = await pair();
    // One turn: the reader reads nothing until the writer stops, so the ring fills up.
    const frames = Array.from({ length: 100 }, (_, i) => pattern(10_000, i));
    for (const bytes of frames) {
      const lease = client.allocate(bytes.length);
      lease.bytes.set(bytes);
      client.send(lease);
    }
    await serverInbox.count(frames.length);
    expect(serverInbox.frames.map((f, i) => firstDifference(f, frames[i]!))).toEqual(frames.map(() => -1));
    // One after the other up to the ring's end (each record: 8-byte header + 10,000 bytes).
    expect(positions).toEqual(frames.map((_, i) => 8 + i * 10_008));
  });
});
