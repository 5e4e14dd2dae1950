// What only the net engine has: option checks, heap reassembly when its region is full,
// sending leases that are not its own (held frames, leases without header room), and
// sender back-pressure through a small region. The contract itself is covered by the
// channel suite (net-tcp / net-unix).

import { afterEach, describe, expect, it } from "vitest";
import type { Channel } from "../../src/channel/channel.js";
import { NetEngine, type NetEngineOptions } from "../../src/channel/net-engine.js";
import { Inbox, sendBytes } from "./support/inbox.js";
import { firstDifference, pattern } from "./support/pattern.js";

describe("NetEngine", () => {
  const engines: NetEngine[] = [];
  const make = (options?: NetEngineOptions): NetEngine => {
    const engine = new NetEngine(options);
    engines.push(engine);
    return engine;
  };
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((engine) => engine.close()));
  });

  async function pair(server: NetEngine, client: NetEngine, onServerFrame?: (frame: Uint8Array, channel: Channel) => void) {
    const serverInbox = new Inbox();
    serverInbox.hook = (frame, channel) => onServerFrame?.(frame, channel!);
    const listener = await server.listen("tcp://127.0.0.1:0", (channel) => {
      serverInbox.channel = channel;
      return serverInbox;
    });
    const clientInbox = new Inbox();
    const channel = await client.connect(listener.url, clientInbox);
    clientInbox.channel = channel;
    return { channel, clientInbox, serverInbox };
  }

  it("checks its options; poll and spinMicros are accepted and ignored", () => {
    expect(() => new NetEngine({ maxFrameBytes: -1 })).toThrow(RangeError);
    expect(() => new NetEngine({ maxFrameBytes: 2 ** 32 })).toThrow(RangeError);
    expect(() => new NetEngine({ poll: "busy" as "spin" })).toThrow(TypeError);
    const engine = make({ poll: "spin", spinMicros: 10, maxFrameBytes: 1000 });
    expect([engine.name, engine.maxFrameBytes, engine.region.closed]).toEqual(["net", 1000, false]);
  });

  it("reassembles on the heap when its region is full, counting it, without stalling", async () => {
    const server = make({ region: { leaseBytes: 64 * 1024 } });
    const { channel, serverInbox } = await pair(server, make());
    await sendBytes(channel, pattern(1 << 20, 1));
    expect(firstDifference(await serverInbox.next(), pattern(1 << 20, 1))).toBe(-1);
    expect(server.stats()).toMatchObject({ reassembled: 1, reassembledOnHeap: 1, framesIn: 1 });
  });

  it("sends held frames (chunk views and reassembled leases) and leases without header room", async () => {
    const server = make();
    const client = make();
    const { channel, clientInbox } = await pair(server, client, (frame, ch) => ch.send(ch.hold(frame)));
    for (const [i, size] of [10, 200_000].entries()) {
      await sendBytes(channel, pattern(size, i));
      expect(firstDifference(await clientInbox.next(), pattern(size, i))).toBe(-1);
    }
    const bare = client.region.allocate(300);
    bare.bytes.set(pattern(300, 9));
    channel.send(bare);
    expect(firstDifference(await clientInbox.next(), pattern(300, 9))).toBe(-1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect([server.stats().liveLeases, client.stats().liveLeases]).toEqual([0, 0]);
  });

  it("makes senders wait for region room (waitForSpace) and still delivers every frame", async () => {
    const client = make({ region: { leaseBytes: 64 * 1024 } });
    const { channel, serverInbox } = await pair(make(), client);
    let waits = 0;
    for (let i = 0; i < 400; i++) {
      const body = pattern(8000, i);
      try {
        const lease = channel.allocate(body.byteLength);
        lease.bytes.set(body);
        channel.send(lease);
      } catch (error) {
        expect(error).toMatchObject({ code: "ERR_REGION_FULL" });
        waits++;
        await sendBytes(channel, body);
      }
    }
    await serverInbox.count(400);
    expect(waits).toBeGreaterThan(0);
    expect(serverInbox.frames.every((frame, i) => firstDifference(frame, pattern(8000, i)) === -1)).toBe(true);
  });
});
