// Zero copy over shm:// (docs/CHANNELS.md §5): a received message is decoded in place in
// the connection's shared ring — under bytes: "alias" its bytes fields are views of the
// mapping's one ArrayBuffer, and receiving adds no copy to stats(). Kept messages stay
// intact while traffic wraps the ring many times (a held frame pins its ring space).
// The send side: the message is encoded straight into a lease (no copy in stats()), and
// the engine then copies the lease into the ring (ShmEngine.stats().sendCopies): leases
// do not live in the ring yet.
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
  return { transport, engine, client: createClient(MarketService, transport) };
}

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
    // The engine's one copy per sent frame (lease -> ring) is counted natively.
    const s = engine.stats();
    expect(s.sendCopies).toBe(s.framesOut);
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
