// Zero copy over shm:// (docs/CHANNELS.md §5): a received message is decoded in place in
// the connection's shared ring — under bytes: "alias" its bytes fields are views of the
// mapping's one ArrayBuffer, and receiving adds no copy to stats(). Kept messages stay
// intact while traffic wraps the ring many times (a held frame pins its ring space).
// The send side: the message is encoded straight into ring space (allocate() hands out a
// record of the outgoing ring), so a message crosses with no copy at all — counted in
// ShmEngine.stats() on both sides (framesInPlace, and sendCopies stays 0).
import { createClient } from "@connectrpc/connect";
import { expect, it, onTestFinished } from "vitest";
import { ShmEngine } from "../../src/channel/shm-engine.js";
import { createServer, createUringTransport, releaseMessage } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import type { Quote } from "../gen/market/v1/market_pb.js";
import { shmUnavailable, shmUrl } from "../channel/shm-suite.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { ServerLog, marketRoutes, pattern } from "./market-service.js";

const RING = 1024 * 1024;

async function start() {
  // The accepting side sizes a connection's rings.
  const serverEngine = new ShmEngine({ ringBytes: RING });
  onTestFinished(() => serverEngine.close());
  const server = createServer({ routes: marketRoutes(new ServerLog()), bytes: "alias", engine: serverEngine });
  onTestFinished(() => server.close(0));
  const url = await server.listen(shmUrl());
  const engine = new ShmEngine({ ringBytes: RING });
  onTestFinished(() => engine.close());
  const transport = createUringTransport({ url, bytes: "alias", engine });
  onTestFinished(() => transport.close());
  return { transport, engine, serverEngine, client: createClient(MarketService, transport) };
}

/** What both engines counted while `run` ran. */
async function copiesDuring(engines: ShmEngine[], run: () => Promise<void>) {
  const before = engines.map((e) => e.stats());
  await run();
  return engines.map((e, i) => {
    const after = e.stats();
    const was = before[i]!;
    return { out: after.framesOut - was.framesOut, inPlace: after.framesInPlace - was.framesInPlace, copies: after.sendCopies - was.sendCopies };
  });
}

gatedDescribe("shm: zero copy end to end", shmUnavailable(), () => {
  it("a unary call and streams of small messages make 0 copies on both sides: every frame is written in place", async () => {
    const { client, transport, engine, serverEngine } = await start();
    await client.getQuote({ symbol: "WARM" }); // the session's handshake frames are covered too, but counted apart
    const unary = await copiesDuring([engine, serverEngine], async () => {
      const reply = await client.getQuote({ symbol: "ONE", payload: pattern(64, 1) });
      expect(Buffer.from(reply.venuePayload).equals(Buffer.from(pattern(64, 1)))).toBe(true);
    });
    const streamed = await copiesDuring([engine, serverEngine], async () => {
      let n = 0;
      for await (const q of client.subscribe({ symbols: ["S"], count: 500, payloadBytes: 64 })) {
        expect(Number(q.sequence)).toBe(++n);
      }
      expect(n).toBe(500);
      async function* orders() {
        for (let i = 0; i < 200; i++) yield { clientOrderId: `o${i}`, symbol: "S", quantity: 1n, signature: pattern(64, i) };
      }
      let acks = 0;
      for await (const ack of client.trade(orders())) expect(ack.clientOrderId).toBe(`o${acks++}`);
      expect(acks).toBe(200);
    });
    for (const [name, counts] of [["unary", unary], ["streams", streamed]] as const) {
      for (const side of counts) {
        expect(side.out, `${name}: frames were sent`).toBeGreaterThan(0);
        expect(side, name).toEqual({ out: side.out, inPlace: side.out, copies: 0 });
      }
    }
    // 500 quotes and 200 acks from the server, 200 orders from the client, at the least.
    expect(streamed[1]!.out).toBeGreaterThanOrEqual(700);
    expect(streamed[0]!.out).toBeGreaterThanOrEqual(200);
    expect(transport.stats().copies).toBe(0);
  });
});

gatedDescribe("shm: zero copy on receive", shmUnavailable(), () => {
  it("an alias-decoded reply's bytes are a view of the connection's shared mapping; receiving copies nothing", async () => {
    const { client, transport, engine } = await start();
    const payload = pattern(1000, 5);
    const before = transport.stats();
    const quote = await client.getQuote({ symbol: "ZC", payload });
    const after = transport.stats();
    // The mapping is [4 KiB control page][ring][ring]: nothing else has that size.
    expect(quote.venuePayload.buffer.byteLength).toBe(4096 + 2 * RING);
    expect(quote.venuePayload.buffer).not.toBe(engine.region.buffer);
    expect(Buffer.from(quote.venuePayload).equals(Buffer.from(payload))).toBe(true);
    // No copy in the Connect layer: the request is encoded straight into its lease
    // (send side), the reply decoded where it lies in the ring (receive side).
    expect(after.copies - before.copies).toBe(0);
    expect(after.framesHeld).toBeGreaterThanOrEqual(1);
    releaseMessage(quote);
    expect(transport.stats().framesHeld).toBe(0);
    // Sending copied nothing either: every frame was encoded in place in the ring.
    const s = engine.stats();
    expect([s.sendCopies, s.framesInPlace]).toEqual([0, s.framesOut]);
    expect(s.reassembled).toBe(0);
  });

  it("held messages stay intact while traffic continues; their ring space comes back on release", async () => {
    const { client } = await start();
    const kept: Quote[] = [];
    for (let i = 0; i < 20; i++) kept.push(await client.getQuote({ symbol: "KEEP", payload: pattern(3000, 100 + i) }));
    // A held frame pins the ring from its place on (the ring is FIFO): what passes while
    // the 20 are held must fit the rest of the ring (here 3/4 of it); after release, 40
    // rings' worth passes.
    const round = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const q = await client.getQuote({ symbol: "CHURN", payload: pattern(16 * 1024, i) });
        releaseMessage(q);
      }
    };
    await round(24);
    const changed = kept.filter((q, i) => !Buffer.from(q.venuePayload).equals(Buffer.from(pattern(3000, 100 + i)))).length;
    expect(changed).toBe(0);
    for (const q of kept) releaseMessage(q);
    await round(40 * 32);
  });
});
