// Echo tests of the channel suite: the engine under test (this process) against an echo
// server of the same engine in a separate process (test/fixtures/echo-server.js).
// Frame sizes around the receive-slot boundary (a frame takes 4 header bytes + body in
// a slot), large frames, 100,000 frames back to back, 64 concurrent connections, zero
// copy (in-place views vs exactly one reassembly) and hold().

import { afterAll, afterEach, beforeAll, describe, expect, onTestFinished } from "vitest";
import type { Channel } from "../../src/channel/channel.js";
import { itUnlessKnown, type ChannelSuiteOptions, type SuiteEngine } from "./channel-suite.js";
import { Inbox, sendBytes } from "./support/inbox.js";
import { firstDifference, pattern } from "./support/pattern.js";
import { Fixture } from "./support/processes.js";

const MiB = 1024 * 1024;

export function echoTests(options: ChannelSuiteOptions): void {
  const it = itUnlessKnown(options);
  describe("echo with a server in another process", () => {
    let server: Fixture;
    let serverUrl: string;
    let engine: SuiteEngine;

    beforeAll(async () => {
      server = new Fixture("echo-server.js", [options.engine, options.url(), JSON.stringify(options.serverOptions ?? {})]);
      serverUrl = (await server.line<{ url: string }>()).url;
      engine = options.makeEngine();
    });

    afterEach(() => {
      // A dead echo server would fail every later test with ECONNREFUSED: say why once.
      const { exitCode, signalCode } = server.child;
      if (exitCode !== null || signalCode !== null) {
        throw new Error(`the echo server exited (${exitCode ?? signalCode}); its stderr:\n${server.stderr.join("")}`);
      }
    });

    afterAll(async () => {
      await engine?.close();
      await server?.stop();
    });

    async function connect(): Promise<{ channel: Channel; inbox: Inbox }> {
      const inbox = new Inbox();
      const channel = await engine.connect(serverUrl, inbox);
      inbox.channel = channel;
      // A test that fails midway must not leave its connections to the shared echo server
      // open (they hold the server's receive slots); close() is idempotent.
      onTestFinished(() => channel.close());
      return { channel, inbox };
    }

    it("echoes frames of every size byte for byte (0 B to 16 MiB, around the slot size)", async () => {
      const slot = engine.region.slotSize;
      const sizes = [0, 1, 4096, slot - 5, slot - 4, slot - 3, slot - 1, slot, slot + 1, MiB, 16 * MiB];
      const { channel, inbox } = await connect();
      for (const [i, size] of sizes.entries()) {
        const sent = pattern(size, i);
        await sendBytes(channel, sent);
        const echoed = await inbox.next(20_000);
        expect({ size, length: echoed.byteLength, firstDifference: firstDifference(echoed, sent) }).toEqual({
          size,
          length: size,
          firstDifference: -1,
        });
      }
      const stats = channel.stats();
      const total = sizes.reduce((a, b) => a + b, 0);
      expect(stats).toMatchObject({ framesOut: sizes.length, framesIn: sizes.length, bytesOut: total, bytesIn: total });
      channel.close();
      expect(await inbox.closed()).toBeUndefined();
      expect(inbox.closes).toHaveLength(1);
    });

    const backToBack = options.load?.backToBackFrames ?? 100_000;
    it(`echoes ${backToBack.toLocaleString("en-US")} small frames sent back to back, in order`, async () => {
      const count = backToBack;
      const { channel, inbox } = await connect();
      for (let i = 0; i < count; i++) {
        const body = pattern(4 + (i % 61), i);
        new DataView(body.buffer).setUint32(0, i, true);
        await sendBytes(channel, body);
        // Yield now and then so that the echoes flow while we send (1000 frames a turn).
        if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
      }
      await inbox.count(count, 40_000);
      let wrong = 0;
      for (let i = 0; i < count; i++) {
        const expected = pattern(4 + (i % 61), i);
        new DataView(expected.buffer).setUint32(0, i, true);
        if (firstDifference(inbox.frames[i]!, expected) !== -1) wrong++;
      }
      expect({ received: inbox.frames.length, wrong }).toEqual({ received: count, wrong: 0 });
      channel.close();
      await inbox.closed();
    });

    const pipelined = options.load?.pipelinedMiB ?? 80;
    it(`pipelines ${pipelined} x 1 MiB frames without waiting for echoes: senders wait, the connection survives`, async () => {
      // By default more than the 64 MiB lease area in flight: the region fills with sends
      // while the echoes come back, and receiving them must not need what the sends hold.
      const count = pipelined;
      const { channel, inbox } = await connect();
      for (let i = 0; i < count; i++) await sendBytes(channel, pattern(MiB, i));
      await inbox.count(count, 30_000);
      const wrong = inbox.frames.filter((frame, i) => firstDifference(frame, pattern(MiB, i)) !== -1).length;
      expect({ received: inbox.frames.length, wrong, closes: inbox.closes }).toEqual({ received: count, wrong: 0, closes: [] });
      channel.close();
      await inbox.closed();
    });

    it("serves 64 concurrent connections, each byte-exact and in order", async () => {
      const slot = engine.region.slotSize;
      const sizes = [0, 1, 100, 4096, slot + 1, 70_000];
      const peers = await Promise.all(Array.from({ length: 64 }, () => connect()));
      await Promise.all(
        peers.map(async ({ channel }, c) => {
          for (const [i, size] of sizes.entries()) await sendBytes(channel, pattern(size, c * 100 + i));
        }),
      );
      await Promise.all(peers.map(({ inbox }) => inbox.count(sizes.length, 30_000)));
      const bad: string[] = [];
      peers.forEach(({ inbox }, c) =>
        sizes.forEach((size, i) => {
          if (firstDifference(inbox.frames[i]!, pattern(size, c * 100 + i)) !== -1) bad.push(`connection ${c} frame ${i}`);
        }),
      );
      expect(bad).toEqual([]);
      for (const { channel } of peers) channel.close();
      const closes = await Promise.all(peers.map(({ inbox }) => inbox.closed()));
      expect(closes.every((error) => error === undefined)).toBe(true);
      expect(peers.map(({ inbox }) => inbox.closes.length)).toEqual(new Array(64).fill(1));
    });

    it("delivers a frame inside one receive buffer in place, and reassembles a straddling frame exactly once", async () => {
      const { channel, inbox } = await connect();
      const region = engine.region;
      const small = options.zeroCopy.inPlaceBody(region);
      // An engine that never reassembles gets a large frame that must arrive in place too.
      const large = options.zeroCopy.straddleBody?.(region) ?? MiB;
      const reassembles = options.zeroCopy.straddleBody !== undefined;
      const seen: { inRegion: boolean; length: number }[] = [];
      inbox.hook = (frame) => seen.push({ inRegion: frame.buffer === region.buffer, length: frame.byteLength });

      const before = channel.stats();
      await sendBytes(channel, pattern(small, 1));
      expect(firstDifference(await inbox.next(), pattern(small, 1))).toBe(-1);
      const afterSmall = channel.stats();
      await sendBytes(channel, pattern(large, 2));
      expect(firstDifference(await inbox.next(), pattern(large, 2))).toBe(-1);
      const afterLarge = channel.stats();

      expect(seen).toEqual([
        { inRegion: options.zeroCopy.inPlaceInRegion, length: small },
        { inRegion: reassembles || options.zeroCopy.inPlaceInRegion, length: large },
      ]);
      expect(afterSmall.reassembled - before.reassembled).toBe(0);
      expect(afterLarge.reassembled - afterSmall.reassembled).toBe(reassembles ? 1 : 0);
      expect(afterLarge.reassembledBytes - afterSmall.reassembledBytes).toBe(reassembles ? large : 0);
      channel.close();
      await inbox.closed();
    });

    it("hold() keeps a received frame (in place or reassembled) intact until release()", async () => {
      const { channel, inbox } = await connect();
      const region = engine.region;
      const sizes = [options.zeroCopy.inPlaceBody(region), options.zeroCopy.straddleBody?.(region) ?? MiB];
      const held: { lease: ReturnType<Channel["hold"]>; size: number; seed: number }[] = [];
      let seed = 1000;
      inbox.hook = (frame, ch) => {
        if (held.length < sizes.length && frame.byteLength === sizes[held.length]) {
          held.push({ lease: ch!.hold(frame), size: frame.byteLength, seed: seed - 1 });
        }
      };
      const baseline = region.stats().liveLeases;
      for (const size of sizes) {
        await sendBytes(channel, pattern(size, seed++));
        await inbox.next();
      }
      // Churn: enough traffic to cycle every receive slot and reuse freed lease memory.
      const churn = Math.max(2 * region.recvSlots, 64);
      inbox.hook = undefined;
      const churnSize = (i: number): number => (i % 16 === 15 ? sizes[1]! : i % 2 === 0 ? sizes[0]! : 3000);
      for (let i = 0; i < churn; i++) await sendBytes(channel, pattern(churnSize(i), 5000 + i));
      await inbox.count(sizes.length + churn, 30_000);
      expect(held.map(({ lease, size, seed }) => firstDifference(lease.bytes, pattern(size, seed)))).toEqual([-1, -1]);
      for (const { lease } of held) lease.release();
      expect(held.map(({ lease }) => lease.released)).toEqual([true, true]);
      expect(() => held[0]!.lease.bytes).toThrow(expect.objectContaining({ code: "ERR_LEASE_RELEASED" }));
      await eventually(() => region.stats().liveLeases <= baseline);
      channel.close();
      await inbox.closed();
    });
  });
}

/** Polls `check` for up to `timeoutMs`; fails with `check`'s last answer. */
export async function eventually(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(check()).toBe(true);
}
