// The in-memory engine against the channel contract (src/channel/channel.ts): frames in
// order, leases, hold()/release, waitForSpace, ERR_REGION_FULL, ERR_CHANNEL_CLOSED,
// onClose exactly once — and the poisoning that makes lifetime bugs observable.

import { describe, expect, it, onTestFinished } from "vitest";
import type { Channel, ChannelEvents, Lease } from "../../src/channel/channel.js";
import { createMemoryEngine, MemoryChannel } from "../../src/channel/memory.js";
import type { MemoryEngineOptions } from "../../src/channel/memory.js";

let n = 0;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Recorder extends ChannelEvents {
  frames: Uint8Array[];
  closes: (Error | undefined)[];
  views: Uint8Array[];
}

function recorder(onFrame?: (frame: Uint8Array) => void): Recorder {
  const r: Recorder = {
    frames: [],
    closes: [],
    views: [],
    onFrame(frame) {
      r.views.push(frame);
      r.frames.push(frame.slice());
      onFrame?.(frame);
    },
    onClose(error) {
      r.closes.push(error);
    },
  };
  return r;
}

async function pair(options?: MemoryEngineOptions, serverHandler?: (c: Channel) => Recorder, serverOptions?: MemoryEngineOptions) {
  const engine = createMemoryEngine(options);
  onTestFinished(() => engine.close());
  const serverEngine = serverOptions === undefined ? engine : createMemoryEngine(serverOptions);
  onTestFinished(() => serverEngine.close());
  let server: Channel | undefined;
  let serverEvents: Recorder | undefined;
  const listener = await serverEngine.listen(`memory://channel-${process.pid}-${++n}`, (c) => {
    server = c;
    serverEvents = serverHandler?.(c) ?? recorder();
    return serverEvents;
  });
  const clientEvents = recorder();
  const client = await engine.connect(listener.url, clientEvents);
  return { engine, listener, client, clientEvents, server: server as Channel, serverEvents: serverEvents as Recorder };
}

function send(c: Channel, bytes: number[]): void {
  const lease = c.allocate(bytes.length);
  lease.bytes.set(bytes);
  c.send(lease);
}

describe("memory engine", () => {
  it("the contract's errors, as on every engine (src/channel/contract.ts); waitForSpace on a closed channel rejects", async () => {
    const { client } = await pair({ maxFrameBytes: 1000 });
    expect(() => client.allocate(1001)).toThrow(new RangeError("frame length 1001 is outside [0, maxFrameBytes=1000]"));
    expect(() => client.hold(new Uint8Array(4))).toThrow(new RangeError("hold() takes the frame of the onFrame() call in progress"));
    const lease = client.allocate(8);
    expect(() => client.send(lease, 9)).toThrow(new RangeError("send length 9 is outside the lease (8 bytes)"));
    client.close();
    const closedError = expect.objectContaining({ code: "ERR_CHANNEL_CLOSED", message: "channel is closed" });
    expect(() => client.allocate(8)).toThrow(closedError);
    expect(() => client.send(lease)).toThrow(closedError);
    await expect(client.waitForSpace(8, 10)).rejects.toEqual(closedError);
  });

  it("delivers frames in order, each send one frame; stats count them", async () => {
    const { client, serverEvents, server } = await pair();
    for (let i = 0; i < 100; i++) send(client, [i, i + 1, i + 2]);
    const partial = client.allocate(10);
    partial.bytes.set([7, 7, 7, 7, 7, 7, 7, 7, 7, 7]);
    client.send(partial, 4);
    await tick();
    await tick();
    expect(serverEvents.frames).toHaveLength(101);
    serverEvents.frames.slice(0, 100).forEach((f, i) => expect([...f]).toEqual([i, i + 1, i + 2]));
    expect([...(serverEvents.frames[100] as Uint8Array)]).toEqual([7, 7, 7, 7]);
    expect(client.stats().framesOut).toBe(101);
    expect(server.stats().framesIn).toBe(101);
    expect(server.stats().bytesIn).toBe(304);
    expect(partial.released).toBe(true);
    expect(partial.bytes.byteLength).toBe(0);
  });

  it("a frame view not held is poisoned and reused after onFrame returns (lifetime bugs are visible)", async () => {
    const { client, serverEvents } = await pair();
    send(client, [1, 2, 3, 4]);
    await tick();
    const stale = serverEvents.views[0] as Uint8Array;
    expect([...stale]).not.toEqual([1, 2, 3, 4]);
    const poisoned = [...stale];
    send(client, [9, 9, 9, 9]);
    await tick();
    // LIFO reuse: the slot was handed out again (and poisoned again on release).
    expect([...stale]).not.toEqual(poisoned);
    expect([...stale]).not.toEqual([1, 2, 3, 4]);
  });

  it("hold() keeps a frame until release(); released leases read as empty", async () => {
    const held: Lease[] = [];
    const { client, serverEvents } = await pair(undefined, (c) => recorder((f) => held.push(c.hold(f))));
    send(client, [5, 6, 7]);
    await tick();
    const lease = held[0] as Lease;
    for (let i = 0; i < 50; i++) send(client, [0, 0, 0]);
    await tick();
    expect([...lease.bytes]).toEqual([5, 6, 7]);
    const view = serverEvents.views[0] as Uint8Array;
    lease.release();
    lease.release();
    expect(lease.released).toBe(true);
    expect(lease.bytes.byteLength).toBe(0);
    expect([...view]).not.toEqual([5, 6, 7]);
    expect(() => (undefined as unknown as Channel)?.hold(view)).not.toThrow();
  });

  it("hold() outside onFrame throws", async () => {
    const { client, server, serverEvents } = await pair();
    send(client, [1]);
    await tick();
    expect(() => server.hold(serverEvents.views[0] as Uint8Array)).toThrow(/onFrame/);
  });

  it("allocate: RangeError above maxFrameBytes, ERR_REGION_FULL when the region is full; waitForSpace", async () => {
    const { client } = await pair({ regionBytes: 4096, maxFrameBytes: 2048 });
    expect(() => client.allocate(4000)).toThrow(RangeError);
    const a = client.allocate(2048);
    const b = client.allocate(2048);
    let error: unknown;
    try {
      client.allocate(10);
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string }).code).toBe("ERR_REGION_FULL");
    await expect(client.waitForSpace(100, 30)).rejects.toMatchObject({ code: "ERR_REGION_FULL" });
    const waiting = client.waitForSpace(100, 5000);
    a.release();
    await waiting;
    expect(client.allocate(100).bytes.byteLength).toBe(100);
    b.release();
    await expect(client.waitForSpace(5000, 10)).rejects.toThrow(RangeError);
  });

  it("a full receiver stalls delivery (back-pressure) until it releases", async () => {
    const held: Lease[] = [];
    const { client, serverEvents } = await pair(
      { regionBytes: 8192, maxFrameBytes: 4096 },
      (c) => recorder((f) => held.push(c.hold(f))),
      { regionBytes: 4096, maxFrameBytes: 4096 },
    );
    // The server's region holds one 4 KiB frame: the second waits in the client's region.
    send(client, new Array<number>(4000).fill(1));
    send(client, new Array<number>(4000).fill(2));
    await tick();
    await tick();
    expect(serverEvents.frames).toHaveLength(1);
    // The undelivered frame keeps its lease: the sender's region fills up too.
    const third = client.allocate(4000);
    expect(() => client.allocate(4000)).toThrow(expect.objectContaining({ code: "ERR_REGION_FULL" }) as Error);
    third.release();
    held[0]?.release();
    await tick();
    await tick();
    expect(serverEvents.frames).toHaveLength(2);
    expect(serverEvents.frames[1]?.[0]).toBe(2);
  });

  it("close(): frames queued before it still arrive; onClose once on both ends; send throws ERR_CHANNEL_CLOSED", async () => {
    const { client, clientEvents, serverEvents } = await pair();
    send(client, [1]);
    client.close();
    client.close();
    expect(client.closed).toBe(true);
    expect(() => send(client, [2])).toThrow(expect.objectContaining({ code: "ERR_CHANNEL_CLOSED" }) as Error);
    await tick();
    await tick();
    expect(serverEvents.frames).toHaveLength(1);
    expect(clientEvents.closes).toEqual([undefined]);
    expect(serverEvents.closes).toEqual([undefined]);
  });

  it("destroy(): the peer sees ECONNRESET; engine.close() closes everything", async () => {
    const { client, clientEvents, serverEvents, engine } = await pair();
    (client as MemoryChannel).destroy();
    expect(clientEvents.closes).toEqual([undefined]);
    expect(serverEvents.closes[0]).toMatchObject({ code: "ECONNRESET" });
    const second = await pair();
    await second.engine.close();
    expect(second.clientEvents.closes).toEqual([undefined]);
    expect(second.serverEvents.closes).toEqual([undefined]);
    await expect(engine.connect("memory://nobody-here", recorder())).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  it("listen: EADDRINUSE for a taken name, a generated name for memory://", async () => {
    const engine = createMemoryEngine();
    onTestFinished(() => engine.close());
    const name = `memory://taken-${process.pid}`;
    await engine.listen(name, () => recorder());
    await expect(engine.listen(name, () => recorder())).rejects.toMatchObject({ code: "EADDRINUSE" });
    const anon = await engine.listen("memory://", () => recorder());
    expect(anon.url).toMatch(/^memory:\/\/anonymous-/);
    await expect(engine.listen("tcp://x", () => recorder())).rejects.toThrow(TypeError);
  });
});
