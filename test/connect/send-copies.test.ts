// Copies on send (issue 14): a message the in-place encoder covers is written straight
// into its lease, so stats() show 0 copies on send (sendCopies) for every RPC kind, on
// both sides; an encoder fallback (here `writeUnknownFields: false`) is toBinary + one
// copy per message, counted in encodeFallbacks, sendCopies and copies.

import { createClient } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import { createServer, createUringTransport } from "../../src/index.js";
import type { RpcStats } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { ServerLog, marketImpl, pattern } from "./market-service.js";

let n = 0;

async function start(serverOptions: { binaryOptions?: { writeUnknownFields: boolean } } = {}) {
  const log = new ServerLog();
  const server = createServer({ routes: (r) => r.service(MarketService, marketImpl(log)), ...serverOptions });
  onTestFinished(() => server.close(0));
  const url = await server.listen(`memory://send-copies-${process.pid}-${++n}`);
  const transport = createUringTransport({ url });
  onTestFinished(() => transport.close());
  return { server, transport, client: createClient(MarketService, transport) };
}

/** Calls of every kind, with bytes fields (64 B to 70 kB) both ways. */
async function everyKind(client: ReturnType<typeof createClient<typeof MarketService>>): Promise<void> {
  for (let i = 0; i < 20; i++) await client.getQuote({ symbol: `Q${i}`, payload: pattern(64, i), responsePayloadBytes: 2000 });
  for await (const _ of client.subscribe({ symbols: ["S"], count: 50, payloadBytes: 64 })) {
    // every item arrives
  }
  const orders = (count: number) =>
    (async function* () {
      for (let i = 0; i < count; i++) yield { clientOrderId: `o${i}`, symbol: "X", quantity: 1n, signature: pattern(70_000, i) };
    })();
  await client.submitOrders(orders(10));
  for await (const _ of client.trade(orders(10))) {
    // every ack arrives
  }
}

const onSend = (s: RpcStats) => ({ sendCopies: s.sendCopies, encodeFallbacks: s.encodeFallbacks });

describe("copies on send", () => {
  it("covered messages: 0 copies on send on both sides, for unary, server, client and bidi streams", async () => {
    const { client, transport, server } = await start();
    await everyKind(client);
    const t = transport.stats();
    const s = server.stats();
    expect(t.messagesOut).toBe(20 + 1 + 10 + 10);
    expect(s.messagesOut).toBe(20 + 50 + 1 + 10);
    expect(onSend(t)).toEqual({ sendCopies: 0, encodeFallbacks: 0 });
    expect(onSend(s)).toEqual({ sendCopies: 0, encodeFallbacks: 0 });
    // What copies remain are the receive side's ("copy" policy: one per bytes field received).
    expect(t.copies).toBe(t.messagesIn);
  });

  it("an encoder fallback is counted: one fallback and one copy per message sent", async () => {
    const { client, transport, server } = await start({ binaryOptions: { writeUnknownFields: false } });
    await everyKind(client);
    const s = server.stats();
    expect(s.messagesOut).toBe(81);
    expect(onSend(s)).toEqual({ sendCopies: s.messagesOut, encodeFallbacks: s.messagesOut });
    expect(onSend(transport.stats())).toEqual({ sendCopies: 0, encodeFallbacks: 0 });
  });
});
