// The RDMA engine's one-sided path: frames larger than the peer's receive slot move by
// RDMA READ from a lease the sender registered for that transfer only, and the sender
// revokes the key (ibv_dereg_mr) when the reader says READ_DONE. Checked here: where
// the slot boundary lies (in place vs exactly one READ), 1 MiB and 16 MiB Connect
// messages byte-exact both ways with one READ per message and every granted key revoked,
// and that a revoked key is refused by the device (the reader's probeRead with the
// exporter's old address and key fails with a remote access error: EACCES).
// Runs inside the soft-RoCE guest; skipped with the reason printed elsewhere.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterEach, expect, it, vi } from "vitest";
import type { Channel } from "../../src/channel/channel.js";
import type { NativeChannel } from "../../src/channel/native-channel.js";
import { RdmaEngine } from "../../src/channel/rdma-engine.js";
import { createRdmaTransport, createServer } from "../../src/index.js";
import { Inbox, sendBytes } from "../channel/support/inbox.js";
import { firstDifference, pattern } from "../channel/support/pattern.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { ServerLog, marketRoutes } from "../connect/market-service.js";
import { IP1, clientEngine, eventually, rdmaDescribe, rnrCountersStayZero, serverUrl } from "./support/rdma-env.js";

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

const MiB = 1024 * 1024;

/** Every key the engine granted was revoked (reads of its exports are all done). */
function keysSettled(engine: RdmaEngine): boolean {
  const s = engine.stats();
  return s.keysGranted === s.keysRevoked;
}

rdmaDescribe("rdma one-sided transfers", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  function engines(): { server: RdmaEngine; client: RdmaEngine } {
    const server = new RdmaEngine({});
    const client = clientEngine();
    cleanup.push(() => server.close(), () => client.close());
    return { server, client };
  }

  /** A connected pair: `client` (client engine) and `server` (its accepted end). */
  async function pair(serverEngine: RdmaEngine, client: RdmaEngine) {
    let accepted: { channel: Channel; inbox: Inbox } | undefined;
    const listener = await serverEngine.listen(serverUrl(), (channel) => {
      const inbox = new Inbox();
      inbox.channel = channel;
      accepted = { channel, inbox };
      return inbox;
    });
    const clientInbox = new Inbox();
    const channel = await client.connect(listener.url, clientInbox);
    clientInbox.channel = channel;
    await eventually(() => accepted !== undefined, "the server accepted");
    return { client: channel, clientInbox, server: accepted!.channel, serverInbox: accepted!.inbox };
  }

  it("slotSize - 8 bytes arrive in place by SEND; slotSize - 7 by exactly one READ from a key granted and revoked once", async () => {
    const { server, client } = engines();
    const p = await pair(server, client);
    const slot = server.region.slotSize;
    const seen: { inRegion: boolean; length: number }[] = [];
    p.serverInbox.hook = (frame) => seen.push({ inRegion: frame.buffer === server.region.buffer, length: frame.byteLength });

    const reads0 = server.stats().reads;
    const granted0 = client.stats().keysGranted;
    await sendBytes(p.client, pattern(slot - 8, 1));
    expect(firstDifference(await p.serverInbox.next(), pattern(slot - 8, 1))).toBe(-1);
    expect([server.stats().reads - reads0, client.stats().keysGranted - granted0]).toEqual([0, 0]);

    await sendBytes(p.client, pattern(slot - 7, 2));
    expect(firstDifference(await p.serverInbox.next(), pattern(slot - 7, 2))).toBe(-1);
    const after = server.stats();
    expect([after.reads - reads0, after.reassembled - reads0, client.stats().keysGranted - granted0]).toEqual([1, 1, 1]);
    expect(after.readBytes).toBeGreaterThanOrEqual(slot - 7);
    await eventually(() => keysSettled(client), "the client revoked its key");
    expect(client.stats().keysRevoked - granted0).toBe(1);
    expect(client.stats().lastRevokedRkey).toBe(after.lastReadRkey);
    // The first frame was a view of a receive slot, the second of a lease: both in the region.
    expect(seen).toEqual([
      { inRegion: true, length: slot - 8 },
      { inRegion: true, length: slot - 7 },
    ]);
    expect(p.server.stats()).toMatchObject({ framesIn: 2, reassembled: 1, reassembledBytes: slot - 7 });
  });

  for (const size of [1 * MiB, 16 * MiB]) {
    it(`${size / MiB} MiB Connect messages go both ways by one READ each, byte-exact, every key revoked`, async () => {
      const { server: serverEngine, client: engine } = engines();
      const limit = 17 * MiB;
      const server = createServer({ routes: marketRoutes(new ServerLog()), allowUnprotected: true, engine: serverEngine, maxMessageBytes: limit });
      cleanup.push(() => server.close(0));
      const url = await server.listen(serverUrl());
      const transport = createRdmaTransport({ url, engine, localAddress: IP1, maxMessageBytes: limit });
      cleanup.push(() => transport.close());
      const client = createClient(MarketService, transport);
      expect((await client.getQuote({ symbol: "warm-up" })).symbol).toBe("warm-up");

      for (const seed of [1, 2]) {
        const sent = pattern(size, seed);
        const serverReads = serverEngine.stats().reads;
        const clientReads = engine.stats().reads;
        const reply = await client.getQuote({ symbol: `big-${seed}`, payload: sent });
        expect(reply.symbol).toBe(`big-${seed}`);
        expect({ length: reply.venuePayload.byteLength, firstDifference: firstDifference(reply.venuePayload, sent) }).toEqual({
          length: size,
          firstDifference: -1,
        });
        // The request crossed by one READ of the server, the reply by one READ of the client.
        expect([serverEngine.stats().reads - serverReads, engine.stats().reads - clientReads]).toEqual([1, 1]);
      }
      await eventually(() => keysSettled(engine) && keysSettled(serverEngine), "both sides revoked every key");
      expect(engine.stats().keysGranted).toBe(2);
      expect(serverEngine.stats().keysGranted).toBe(2);
      expect(engine.stats().readBytes).toBeGreaterThanOrEqual(2 * size);
      expect(serverEngine.stats().readBytes).toBeGreaterThanOrEqual(2 * size);
    });
  }

  it("64 connections reading at once share one window of 8 READ chunks per engine: every frame echoed, no connection reset (issue 4)", async () => {
    // Unpaced READ responses of 64 connections x 4 chunks overflowed the veth backlog;
    // rxe answered a dropped response with an RNR NAK that reset the reader's queue pair
    // (test/rdma/repro/read-burst.mjs). The RNR counter check at the end of this file
    // covers the device side; readChunksPeak pins the bound itself.
    const { server, client } = engines();
    const listener = await server.listen(serverUrl(), (channel) => ({
      onFrame(frame: Uint8Array) {
        const lease = channel.allocate(frame.byteLength);
        lease.bytes.set(frame);
        channel.send(lease);
      },
      onClose() {},
    }));
    const size = server.region.slotSize + 70_000; // five 16 KiB READ chunks each way
    const perConnection = 4;
    const peers = await Promise.all(
      Array.from({ length: 64 }, async () => {
        const inbox = new Inbox();
        inbox.channel = await client.connect(listener.url, inbox);
        return inbox;
      }),
    );
    await Promise.all(
      peers.map(async (inbox, c) => {
        for (let i = 0; i < perConnection; i++) await sendBytes(inbox.channel!, pattern(size, c * 10 + i));
      }),
    );
    await Promise.all(peers.map((inbox) => inbox.count(perConnection, 120_000)));
    const wrong = peers.flatMap((inbox, c) =>
      inbox.frames.filter((frame, i) => firstDifference(frame, pattern(size, c * 10 + i)) !== -1).map((_, i) => `${c}/${i}`),
    );
    expect({ wrong, closes: peers.flatMap((inbox) => inbox.closes) }).toEqual({ wrong: [], closes: [] });
    const peaks = [server.stats().readChunksPeak, client.stats().readChunksPeak];
    expect(peaks.every((peak) => peak >= 1 && peak <= 8), `READ chunks in flight at most: ${peaks}`).toBe(true);
    await eventually(() => keysSettled(client) && keysSettled(server), "every granted key was revoked");
    for (const inbox of peers) inbox.channel!.close();
  });

  it("a message over the peer's maxMessageBytes fails with ResourceExhausted before anything is granted", async () => {
    const { server: serverEngine, client: engine } = engines();
    const server = createServer({ routes: marketRoutes(new ServerLog()), allowUnprotected: true, engine: serverEngine });
    cleanup.push(() => server.close(0));
    const transport = createRdmaTransport({ url: await server.listen(serverUrl()), engine, localAddress: IP1 });
    cleanup.push(() => transport.close());
    const client = createClient(MarketService, transport);
    expect((await client.getQuote({ symbol: "warm-up" })).symbol).toBe("warm-up");
    const error = await client.getQuote({ symbol: "too-big", payload: new Uint8Array(5 * MiB) }).catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.ResourceExhausted);
    expect(engine.stats().keysGranted).toBe(0);
    expect((await client.getQuote({ symbol: "after" })).symbol).toBe("after");
  });

  it("a revoked key is refused by the device: probeRead with the exporter's old address and key closes the connection with EACCES", async () => {
    const { server, client } = engines();
    const p = await pair(server, client);
    // A bystander connection on the same engines must survive the probe.
    const other = await pair(server, client);
    const size = 256 * 1024;
    await sendBytes(p.client, pattern(size, 3));
    expect(firstDifference(await p.serverInbox.next(), pattern(size, 3))).toBe(-1);
    await eventually(() => keysSettled(client), "the client (exporter) revoked its key");

    const { lastReadAddr, lastReadRkey } = server.stats();
    expect(lastReadAddr).toBeGreaterThan(0);
    expect(client.stats().lastRevokedRkey).toBe(lastReadRkey);
    // The connection still works before the probe: what closes it below is the probe.
    await sendBytes(p.client, pattern(100, 4));
    expect(firstDifference(await p.serverInbox.next(), pattern(100, 4))).toBe(-1);

    const id = (p.server as NativeChannel).id;
    expect(server.native.probeRead(id, lastReadAddr, lastReadRkey, 64)).toBe(0);
    const error = (await p.serverInbox.closed(20_000)) as (Error & { code?: string }) | undefined;
    expect(error, "the probe must fail the connection").toBeInstanceOf(Error);
    expect(error?.code).toBe("EACCES");
    expect(p.serverInbox.closes).toHaveLength(1);
    // The exporter sees its peer go away; nobody else is affected.
    await p.clientInbox.closed(20_000);
    await sendBytes(other.client, pattern(5000, 5));
    expect(firstDifference(await other.serverInbox.next(), pattern(5000, 5))).toBe(-1);
  });

  rnrCountersStayZero();
});
