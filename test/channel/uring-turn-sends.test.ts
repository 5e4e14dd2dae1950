// Frames queued in one event-loop turn on the io_uring engine leave together: every
// connection's sends of that turn reach the kernel in one io_uring_enter (docs/LIFETIMES.md).
// Asserted from the sending engine's counters: `framesOut` grows by every frame queued,
// `submits` by exactly one. The receiving side is another engine, and it never answers,
// so nothing else submits on the sending engine.
import { afterEach, expect, it } from "vitest";
import { UringEngine } from "../../src/channel/uring-engine.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { uringUnavailable } from "./engines.js";
import { uringPair } from "./support/uring-pair.js";
import { pattern } from "./support/pattern.js";

const CONNECTIONS = 3;
const FRAMES_PER_CONNECTION = 5;

gatedDescribe("sends of one turn (io_uring)", uringUnavailable(), () => {
  const engines: UringEngine[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });

  it("frames queued on 3 connections in one turn go to the kernel in one io_uring_enter", async () => {
    const { sender, channels, inboxes } = await uringPair(engines, CONNECTIONS);
    expect(inboxes).toHaveLength(CONNECTIONS);
    // A few turns with nothing queued: connects and first receives are behind us.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));

    const before = sender.stats();
    channels.forEach((channel, c) => {
      for (let f = 0; f < FRAMES_PER_CONNECTION; f++) {
        const lease = channel.allocate(32);
        lease.bytes.set(pattern(32, c * 100 + f));
        channel.send(lease);
      }
    });
    await Promise.all(inboxes.map((inbox) => inbox.count(FRAMES_PER_CONNECTION)));
    const after = sender.stats();
    expect(after.framesOut - before.framesOut, "frames queued").toBe(CONNECTIONS * FRAMES_PER_CONNECTION);
    expect(after.submits - before.submits, "io_uring_enter calls that carried the turn's sends").toBe(1);
  });
});
