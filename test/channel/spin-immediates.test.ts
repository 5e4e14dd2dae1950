// A native engine in spin mode stops spinning when JS left setImmediate work for the loop
// (native/common/loop_immediates.h): the work runs at once, not after the spin window or
// the pump's 2 ms cap. Streams depend on it: they let the loop turn between large
// messages (src/connect/next-turn.ts).
//
// The receiver spins with a 1 s window, so without the check every immediate scheduled in
// a frame callback would wait for the cap (about 2 ms). Ping-pong: the receiver answers
// from the immediate, the sender sends the next frame when the answer arrives.
import { afterEach, expect, it } from "vitest";
import type { Channel, ChannelEngine } from "../../src/channel/channel.js";
import { ShmEngine } from "../../src/channel/shm-engine.js";
import { UringEngine } from "../../src/channel/uring-engine.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { uringUnavailable } from "./engines.js";
import { shmUnavailable, shmUrl } from "./shm-suite.js";
import { Inbox } from "./support/inbox.js";

const ROUNDS = 31;
/** Far below the pump's cap (2 ms), far above an immediate's cost. */
const MEDIAN_LIMIT_US = 500;

interface Case {
  name: string;
  unavailable: () => string | undefined;
  engine: (spin: boolean) => ChannelEngine;
  url: () => string;
}

const cases: Case[] = [
  {
    name: "io_uring",
    unavailable: uringUnavailable,
    engine: (spin) => new UringEngine(spin ? { poll: "spin", spinMicros: 1_000_000 } : {}),
    url: () => "tcp://127.0.0.1:0",
  },
  {
    name: "shm",
    unavailable: shmUnavailable,
    engine: (spin) => new ShmEngine(spin ? { poll: "spin", spinMicros: 1_000_000 } : {}),
    url: shmUrl,
  },
];

function send(channel: Channel, byte: number): void {
  const lease = channel.allocate(16);
  lease.bytes.fill(byte);
  channel.send(lease);
}

for (const c of cases) {
  gatedDescribe(`spin mode lets setImmediate run (${c.name})`, c.unavailable(), () => {
    const engines: ChannelEngine[] = [];
    afterEach(async () => {
      await Promise.all(engines.splice(0).map((e) => e.close()));
    });

    it("an immediate scheduled in a frame callback runs without waiting for the spin window", async () => {
      const spinning = c.engine(true);
      const sender = c.engine(false);
      engines.push(spinning, sender);
      const delaysUs: number[] = [];
      const listener = await spinning.listen(c.url(), (channel) => ({
        onFrame: () => {
          const scheduled = process.hrtime.bigint();
          setImmediate(() => {
            delaysUs.push(Number(process.hrtime.bigint() - scheduled) / 1000);
            send(channel, 2);
          });
        },
        onClose: () => undefined,
      }));
      const answers = new Inbox();
      const channel = await sender.connect(listener.url, answers);
      for (let round = 0; round < ROUNDS; round++) {
        send(channel, 1);
        await answers.next();
      }
      expect(delaysUs).toHaveLength(ROUNDS);
      const median = [...delaysUs].sort((a, b) => a - b)[ROUNDS >> 1]!;
      expect(median, `median delay of an immediate under spin, µs (all: ${delaysUs.map(Math.round).join(" ")})`).toBeLessThan(MEDIAN_LIMIT_US);
    });
  });
}
