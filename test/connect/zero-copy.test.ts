// Zero-copy lifetime proofs (docs/LIFETIMES.md) on the memory engine, whose released slots are
// poisoned and reused LIFO: a decoded message that still pointed into a released slot
// would change. Under both policies, thousands of messages are kept alive while traffic
// continues, and must never change; under "alias" the tests also show the views really
// are in the region (released → poisoned) and that held frames are accounted for.

import { create } from "@bufbuild/protobuf";
import type { MessageShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import type { ConnectRouter } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import { createServer, createUringTransport, releaseMessage } from "../../src/index.js";
import type { BytesPolicy } from "../../src/index.js";
import { GetQuoteRequestSchema, MarketService, OrderSchema, QuoteSchema } from "../gen/market/v1/market_pb.js";
import type { Quote } from "../gen/market/v1/market_pb.js";
import { ServerLog, marketImpl, pattern } from "./market-service.js";

let n = 0;
const KEEP = 3000;

async function start(routes: (r: ConnectRouter) => void, serverBytes: BytesPolicy, clientBytes: BytesPolicy) {
  const server = createServer({ routes, bytes: serverBytes });
  onTestFinished(() => server.close(0));
  const url = await server.listen(`memory://zero-copy-${process.pid}-${++n}`);
  const transport = createUringTransport({ url, bytes: clientBytes });
  onTestFinished(() => transport.close());
  return { server, transport, client: createClient(MarketService, transport) };
}

function defaultRoutes(): (r: ConnectRouter) => void {
  const log = new ServerLog();
  return (r) => r.service(MarketService, marketImpl(log));
}

/** Traffic that reuses receive slots of the same size classes. */
async function churn(client: ReturnType<typeof createClient<typeof MarketService>>, rounds: number): Promise<void> {
  const calls = [];
  for (let i = 0; i < rounds; i++) calls.push(client.getQuote({ symbol: "CHURN", payload: pattern(200, 99_000 + i) }));
  // Under "alias" a unary result holds its frame until released (no-op under "copy").
  for (const q of await Promise.all(calls)) releaseMessage(q);
  for await (const _ of client.subscribe({ symbols: ["CHURN"], count: 200, payloadBytes: 200 })) {
    // each frame lands in a recycled slot
  }
}

function unknownField(seed: number): { no: number; wireType: number; data: Uint8Array }[] {
  const payload = pattern(24, seed);
  return [{ no: 999, wireType: 2, data: new Uint8Array([payload.byteLength, ...payload]) }];
}

describe("zero copy: client side", () => {
  it.each(["copy", "alias"] as const)(`%s: ${KEEP} kept unary responses never change while traffic continues`, async (policy) => {
    const { client, transport } = await start(defaultRoutes(), "copy", policy);
    const kept: Quote[] = [];
    for (let batch = 0; batch < KEEP / 500; batch++) {
      const calls = [];
      for (let i = 0; i < 500; i++) {
        const id = batch * 500 + i;
        calls.push(client.getQuote({ symbol: `K${id}`, payload: pattern(200, id) }));
      }
      kept.push(...(await Promise.all(calls)));
    }
    await churn(client, 500);
    kept.forEach((q, id) => {
      expect(q.symbol).toBe(`K${id}`);
      expect(q.venuePayload).toEqual(pattern(200, id));
    });
    const stats = transport.stats();
    if (policy === "alias") {
      // Views into the region, held: no receive-side copies, one held frame per kept message.
      expect(stats.framesHeld).toBe(KEEP);
      // and none on send: requests are encoded straight into their leases.
      expect(stats.copies).toBe(0);
      // Prove they really were views: once released, the slot is poisoned and reused.
      const sample = kept[123] as Quote;
      expect(releaseMessage(sample)).toBe(true);
      expect(releaseMessage(sample)).toBe(false);
      expect(sample.venuePayload).not.toEqual(pattern(200, 123));
      for (const q of kept) releaseMessage(q);
      expect(transport.stats().framesHeld).toBe(0);
    } else {
      expect(stats.framesHeld).toBe(0);
      // None on send (encoded in place), one per bytes field received.
      expect(stats.copies).toBe(stats.messagesIn);
      expect(releaseMessage(kept[0] as Quote)).toBe(false);
    }
  });

  it("alias: a stream item stays intact until the next item is asked for, then its slot is released", async () => {
    const { client, transport } = await start(defaultRoutes(), "copy", "alias");
    let previous: Quote | undefined;
    let seen = 0;
    for await (const q of client.subscribe({ symbols: ["S"], count: 300, payloadBytes: 500 })) {
      if (previous !== undefined) {
        // Asking for this item ended the previous one's scope: its slot was poisoned.
        expect(previous.venuePayload).not.toEqual(pattern(500, seen));
      }
      expect(q.venuePayload).toEqual(pattern(500, Number(q.sequence)));
      // Other traffic while the item is alive must not touch it.
      if (seen % 50 === 0) releaseMessage(await client.getQuote({ symbol: "T", payload: pattern(500, 1) }));
      expect(q.venuePayload).toEqual(pattern(500, Number(q.sequence)));
      expect(transport.stats().framesHeld).toBeGreaterThanOrEqual(1);
      previous = q;
      seen++;
    }
    expect(seen).toBe(300);
    expect(transport.stats().framesHeld).toBe(0);
  });

  it("copy: unknown fields are copied out too", async () => {
    // A server that answers with the request's unknown field attached to the response.
    const routes = (r: ConnectRouter): void => {
      r.service(MarketService, {
        ...marketImpl(new ServerLog()),
        getQuote(req) {
          if (req.symbol === "CHURN") return { symbol: req.symbol, venuePayload: req.payload };
          const q = create(QuoteSchema, { symbol: req.symbol });
          q.$unknown = req.$unknown;
          return q;
        },
      });
    };
    const { client } = await start(routes, "copy", "copy");
    const kept = [];
    for (let i = 0; i < 500; i++) {
      const req = create(GetQuoteRequestSchema, { symbol: `U${i}` });
      req.$unknown = unknownField(i);
      kept.push(await client.getQuote(req));
    }
    await churn(client, 300);
    kept.forEach((q, i) => expect(q.$unknown?.[0]?.data).toEqual(unknownField(i)[0]?.data));
  });
});

describe("zero copy: server side", () => {
  it.each(["copy", "alias"] as const)(`%s: a handler keeps ${KEEP} requests intact while traffic continues; held frames end with it`, async (policy) => {
    const verified: string[] = [];
    let heldDuring = -1;
    let serverRef: { stats(): { framesHeld: number } } | undefined;
    const log = new ServerLog();
    const routes = (r: ConnectRouter): void => {
      r.service(MarketService, {
        ...marketImpl(log),
        async submitOrders(orders) {
          const kept: MessageShape<typeof OrderSchema>[] = [];
          for await (const o of orders) kept.push(o);
          heldDuring = serverRef?.stats().framesHeld ?? -1;
          kept.forEach((o, i) => {
            const ok =
              o.clientOrderId === `o${i}` &&
              equal(o.signature, pattern(64, i)) &&
              equal(o.legs[0] ?? new Uint8Array(), pattern(16, i + 1)) &&
              equal(o.tags.venue ?? new Uint8Array(), pattern(12, i + 2)) &&
              o.timeInForce.case === "venueInstruction" &&
              equal(o.timeInForce.value, pattern(10, i + 3)) &&
              equal(o.reference?.venuePayload ?? new Uint8Array(), pattern(20, i + 4)) &&
              equal(o.$unknown?.[0]?.data ?? new Uint8Array(), unknownField(i)[0]?.data ?? new Uint8Array());
            if (!ok) verified.push(`order ${i} changed`);
          });
          return { accepted: kept.length };
        },
      });
    };
    const { client, server } = await start(routes, policy, "copy");
    serverRef = server;
    let sent = 0;
    async function* orders() {
      for (let i = 0; i < KEEP; i++) {
        const o = create(OrderSchema, {
          clientOrderId: `o${i}`,
          signature: pattern(64, i),
          legs: [pattern(16, i + 1)],
          tags: { venue: pattern(12, i + 2) },
          timeInForce: { case: "venueInstruction", value: pattern(10, i + 3) },
          reference: { venuePayload: pattern(20, i + 4) },
        });
        o.$unknown = unknownField(i);
        sent++;
        // Other calls run on the same connection while the handler keeps its messages.
        if (i % 500 === 0) await churn(client, 50);
        yield o;
      }
    }
    const summary = await client.submitOrders(orders());
    expect(sent).toBe(KEEP);
    expect(summary.accepted).toBe(KEEP);
    expect(verified).toEqual([]);
    if (policy === "alias") expect(heldDuring).toBeGreaterThanOrEqual(KEEP);
    else expect(heldDuring).toBe(0);
    expect(server.stats().framesHeld).toBe(0);
  });
});

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
