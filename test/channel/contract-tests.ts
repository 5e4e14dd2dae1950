// Contract tests of the channel suite, in one process (two engines of the kind under
// test, one listening, one connecting): URL resolution, lease ownership, close
// semantics (onClose exactly once), waitForSpace, errors like Node core's, engine and
// listener close.

import { existsSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { Channel, Lease, Listener } from "../../src/channel/channel.js";
import { parseChannelUrl } from "../../src/channel/address.js";
import type { ChannelSuiteOptions, SuiteEngine } from "./channel-suite.js";
import { Inbox, sendBytes } from "./support/inbox.js";
import { firstDifference, pattern } from "./support/pattern.js";

interface Pair {
  client: Channel;
  clientInbox: Inbox;
  server: Channel;
  serverInbox: Inbox;
}

export function contractTests(options: ChannelSuiteOptions): void {
  describe("channel contract (in process)", () => {
    const engines: SuiteEngine[] = [];
    const make = (config?: Parameters<ChannelSuiteOptions["makeEngine"]>[0]): SuiteEngine => {
      const engine = options.makeEngine(config);
      engines.push(engine);
      return engine;
    };
    afterEach(async () => {
      await Promise.all(engines.splice(0).map((engine) => engine.close()));
    });

    /** A listener on `serverEngine` whose accepted channels land in `accepted`. */
    async function listen(serverEngine: SuiteEngine): Promise<{ listener: Listener; accepted: { channel: Channel; inbox: Inbox }[] }> {
      const accepted: { channel: Channel; inbox: Inbox }[] = [];
      const listener = await serverEngine.listen(options.url(), (channel) => {
        const inbox = new Inbox();
        inbox.channel = channel;
        accepted.push({ channel, inbox });
        return inbox;
      });
      return { listener, accepted };
    }

    async function pair(clientEngine = make(), serverEngine = make()): Promise<Pair & { listener: Listener }> {
      const { listener, accepted } = await listen(serverEngine);
      const clientInbox = new Inbox();
      const client = await clientEngine.connect(listener.url, clientInbox);
      clientInbox.channel = client;
      const deadline = Date.now() + 5000;
      while (accepted.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
      expect(accepted).toHaveLength(1);
      return { listener, client, clientInbox, server: accepted[0]!.channel, serverInbox: accepted[0]!.inbox };
    }

    it("listen() resolves the bound URL and both ends exchange frames", async () => {
      const requested = options.url();
      const engine = make();
      const listener = await engine.listen(requested, () => new Inbox());
      const bound = parseChannelUrl(listener.url);
      const asked = parseChannelUrl(requested);
      if (asked.scheme === "tcp" || asked.scheme === "rdma") {
        expect(bound).toMatchObject({ scheme: asked.scheme, host: asked.host });
        expect(bound.scheme === asked.scheme && bound.port > 0).toBe(true);
      } else {
        expect(bound).toEqual(asked);
      }
      await listener.close();

      const { client, clientInbox, server, serverInbox } = await pair();
      expect([client.engine, server.engine]).toEqual([options.engine, options.engine]);
      await sendBytes(client, pattern(300, 1));
      expect(firstDifference(await serverInbox.next(), pattern(300, 1))).toBe(-1);
      await sendBytes(server, pattern(301, 2));
      expect(firstDifference(await clientInbox.next(), pattern(301, 2))).toBe(-1);
    });

    it("keepAlive(false) changes nothing but the process's lifetime: frames flow both ways, and after close it is a no-op", async () => {
      const { client, clientInbox, server, serverInbox } = await pair();
      client.keepAlive(false);
      server.keepAlive(false);
      await sendBytes(client, pattern(200, 3));
      expect(firstDifference(await serverInbox.next(), pattern(200, 3))).toBe(-1);
      await sendBytes(server, pattern(201, 4));
      expect(firstDifference(await clientInbox.next(), pattern(201, 4))).toBe(-1);
      client.keepAlive(true);
      await sendBytes(client, pattern(202, 5));
      expect(firstDifference(await serverInbox.next(), pattern(202, 5))).toBe(-1);
      client.close();
      expect(() => client.keepAlive(false)).not.toThrow();
      expect(() => client.keepAlive(true)).not.toThrow();
    });

    it("lease rules: sizes checked, send takes ownership, release is idempotent, byteLength sends a prefix", async () => {
      const engine = make({ maxFrameBytes: 65536 });
      const { client, serverInbox } = await pair(engine);
      expect(client.maxFrameBytes).toBe(65536);
      // The same class and message on every engine (src/channel/contract.ts).
      expect(() => client.allocate(65537)).toThrow(new RangeError("frame length 65537 is outside [0, maxFrameBytes=65536]"));
      expect(() => client.allocate(-1)).toThrow(RangeError);
      expect(() => client.allocate(1.5)).toThrow(RangeError);
      expect(() => client.hold(new Uint8Array(4))).toThrow(new RangeError("hold() takes the frame of the onFrame() call in progress"));

      const unsent = client.allocate(10);
      unsent.release();
      unsent.release();
      expect(unsent.released).toBe(true);
      expect(() => unsent.bytes).toThrow(expect.objectContaining({ code: "ERR_LEASE_RELEASED" }));

      const lease = client.allocate(100);
      lease.bytes.set(pattern(100, 7));
      expect(() => client.send(lease, 101)).toThrow(new RangeError("send length 101 is outside the lease (100 bytes)"));
      client.send(lease, 40);
      expect(lease.released).toBe(true);
      expect(() => lease.bytes).toThrow(expect.objectContaining({ code: "ERR_LEASE_RELEASED" }));
      expect(firstDifference(await serverInbox.next(), pattern(100, 7).subarray(0, 40))).toBe(-1);

      const full = client.allocate(65536);
      full.bytes.fill(9);
      client.send(full);
      const received = await serverInbox.next();
      expect([received.byteLength, received.every((b) => b === 9)]).toEqual([65536, true]);
    });

    it("sending a released lease, or one already sent, throws ERR_LEASE_RELEASED on the open channel; the peer gets the frame once", async () => {
      const { client, serverInbox } = await pair();
      const released = client.allocate(16);
      released.release();
      expect(() => client.send(released)).toThrow(expect.objectContaining({ code: "ERR_LEASE_RELEASED" }));

      const lease = client.allocate(64);
      lease.bytes.set(pattern(64, 11));
      client.send(lease);
      expect(() => client.send(lease)).toThrow(expect.objectContaining({ code: "ERR_LEASE_RELEASED" }));
      expect(() => client.send(lease, 8)).toThrow(expect.objectContaining({ code: "ERR_LEASE_RELEASED" }));
      expect(client.closed, "the refused sends left the channel open").toBe(false);
      // A marker after it: the frame arrives once, then the marker, nothing in between.
      await sendBytes(client, pattern(5, 12));
      await serverInbox.count(2);
      expect(firstDifference(serverInbox.frames[0]!, pattern(64, 11))).toBe(-1);
      expect(firstDifference(serverInbox.frames[1]!, pattern(5, 12))).toBe(-1);
      await sendBytes(client, pattern(6, 13));
      await serverInbox.count(3);
      expect(serverInbox.frames.map((f) => f.byteLength)).toEqual([64, 5, 6]);
    });

    it("close(): onClose(undefined) exactly once on both ends; send/allocate after close throw ERR_CHANNEL_CLOSED", async () => {
      const { client, clientInbox, server, serverInbox } = await pair();
      const lease = client.allocate(8);
      client.close();
      client.close();
      expect(client.closed).toBe(true);
      const closedError = expect.objectContaining({ code: "ERR_CHANNEL_CLOSED", message: "channel is closed" });
      expect(() => client.send(lease)).toThrow(closedError);
      expect(() => client.allocate(8)).toThrow(closedError);
      await expect(client.waitForSpace(8, 10)).rejects.toEqual(closedError);
      expect(await clientInbox.closed()).toBeUndefined();
      expect(await serverInbox.closed()).toBeUndefined();
      expect(server.closed).toBe(true);
      server.close();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect([clientInbox.closes.length, serverInbox.closes.length]).toEqual([1, 1]);
    });

    it("waitForSpace() rejects with ERR_REGION_FULL after its timeout and resolves once a lease comes back", async () => {
      const engine = make({ region: { leaseBytes: 64 * 1024 } });
      const { client } = await pair(engine);
      const leases: Lease[] = [];
      let full: unknown;
      for (let i = 0; i < 64 && full === undefined; i++) {
        try {
          leases.push(client.allocate(8000));
        } catch (error) {
          full = error;
        }
      }
      expect(full).toMatchObject({ code: "ERR_REGION_FULL" });
      expect(leases.length).toBeGreaterThan(1);

      const started = Date.now();
      await expect(client.waitForSpace(8000, 60)).rejects.toMatchObject({ code: "ERR_REGION_FULL" });
      expect(Date.now() - started).toBeGreaterThanOrEqual(50);

      const waiting = client.waitForSpace(8000, 5000);
      setTimeout(() => leases.pop()!.release(), 20);
      await expect(waiting).resolves.toBeUndefined();
      expect(() => client.allocate(8000)).not.toThrow();
      await expect(client.waitForSpace(client.maxFrameBytes + 1, 10)).rejects.toBeInstanceOf(RangeError);
    });

    it("connect() failures carry code/errno/syscall like Node core", async () => {
      const engine = make();
      const { listener } = await listen(engine);
      const url = listener.url;
      await listener.close();
      const error = await engine.connect(url, new Inbox()).then(
        () => undefined,
        (e: unknown) => e,
      );
      const expected = /^(unix|shm):/.test(url) ? "ENOENT" : "ECONNREFUSED";
      expect(error).toMatchObject({ code: expected, syscall: "connect" });
      expect(typeof (error as { errno?: unknown }).errno).toBe("number");
      await expect(engine.connect("tcp://127.0.0.1", new Inbox())).rejects.toBeInstanceOf(TypeError);
    });

    it("Listener.close() stops accepting, keeps existing channels, and removes a unix socket file", async () => {
      const { listener, client, clientInbox, serverInbox, server } = await pair();
      await listener.close();
      await listener.close();
      const address = parseChannelUrl(listener.url);
      const socketFile = address.scheme === "unix" || address.scheme === "shm";
      if (socketFile) expect(existsSync(address.path)).toBe(false);
      await expect(make().connect(listener.url, new Inbox())).rejects.toMatchObject({
        code: socketFile ? "ENOENT" : "ECONNREFUSED",
      });
      await sendBytes(client, pattern(50, 3));
      expect(firstDifference(await serverInbox.next(), pattern(50, 3))).toBe(-1);
      await sendBytes(server, pattern(51, 4));
      expect(firstDifference(await clientInbox.next(), pattern(51, 4))).toBe(-1);
    });

    it("engine.close() closes its listeners and channels (onClose once each) and frees its region", async () => {
      const serverEngine = make();
      const clientEngine = make();
      const { listener, client, clientInbox, serverInbox } = await pair(clientEngine, serverEngine);
      const lease = client.allocate(100);
      await serverEngine.close();
      await serverEngine.close();
      expect(await serverInbox.closed()).toBeUndefined();
      const peerError = await clientInbox.closed();
      expect(peerError === undefined || typeof (peerError as { code?: unknown }).code === "string").toBe(true);
      expect([serverInbox.closes.length, clientInbox.closes.length]).toEqual([1, 1]);
      expect(serverEngine.region.closed).toBe(true);
      const address = parseChannelUrl(listener.url);
      if (address.scheme === "unix") expect(existsSync(address.path)).toBe(false);
      await expect(serverEngine.listen(options.url(), () => new Inbox())).rejects.toThrow();
      lease.release();
      await clientEngine.close();
      expect(clientInbox.closes).toHaveLength(1);
    });
  });
}
