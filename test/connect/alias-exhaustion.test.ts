// bytes: "alias" on io_uring: unary results the application keeps without releaseMessage()
// pin the engine's receive slots. When they hold them all, a new call must fail at once
// with ResourceExhausted naming framesHeld and recvSlots (not wait until its deadline),
// calls must work again once the results are released, and a one-time process warning
// (CONNECT_RDMA_ALIAS_HELD) fires when held frames pass half the receive slots.

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, expect, it, onTestFinished } from "vitest";
import { UringEngine, createServer, createUringTransport, releaseMessage } from "../../src/index.js";
import type { Quote } from "../gen/market/v1/market_pb.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { listenUrl, uringUnavailable } from "../channel/engines.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { ServerLog, marketImpl, pattern } from "./market-service.js";

const RECV_SLOTS = 64;
const unavailable = uringUnavailable();
const clientEngine = unavailable === undefined ? new UringEngine({ region: { slotSize: 4096, recvSlots: RECV_SLOTS, leaseBytes: 4 * 1024 * 1024 } }) : undefined;
afterAll(async () => {
  await clientEngine?.close();
});

async function start() {
  const log = new ServerLog();
  const server = createServer({ routes: (r) => r.service(MarketService, marketImpl(log)) });
  onTestFinished(() => server.close(0));
  const url = await server.listen(listenUrl("tcp"));
  const transport = createUringTransport({ url, engine: clientEngine, bytes: "alias" });
  onTestFinished(() => transport.close());
  return { transport, client: createClient(MarketService, transport) };
}

function collectWarnings(): Error[] {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => {
    if ((w as Error & { code?: string }).code === "CONNECT_RDMA_ALIAS_HELD") warnings.push(w);
  };
  process.on("warning", onWarning);
  onTestFinished(() => {
    process.off("warning", onWarning);
  });
  return warnings;
}

gatedDescribe("bytes: alias, receive slots held by the application (uring-tcp)", unavailable, () => {
  it("the call that finds every slot held fails at once with ResourceExhausted; releasing brings calls back; one warning", async () => {
    const warnings = collectWarnings();
    const { client, transport } = await start();
    const kept: Quote[] = [];
    let failure: unknown;
    // Far more than the slots: every result is kept, one call at a time (one slot each).
    for (let i = 0; i < 700; i++) {
      try {
        kept.push(await client.getQuote({ symbol: `K${i}`, payload: pattern(100, i) }));
      } catch (e) {
        failure = e;
        break;
      }
    }
    expect(failure).toBeInstanceOf(ConnectError);
    const error = failure as ConnectError;
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(kept.length).toBe(RECV_SLOTS);
    expect(error.rawMessage).toContain(`${RECV_SLOTS} frames`);
    expect(error.rawMessage).toContain(`recvSlots ${RECV_SLOTS}`);
    expect(error.rawMessage).toContain("releaseMessage");
    expect(error.rawMessage).toContain('bytes: "copy"');
    expect(transport.stats().framesHeld).toBe(RECV_SLOTS);
    // The kept results still read what was sent (their slots stayed pinned).
    kept.forEach((q, i) => expect(q.venuePayload).toEqual(pattern(100, i)));

    // A streaming call is refused the same way.
    const stream = client.subscribe({ symbols: ["S"], count: 3, payloadBytes: 10 });
    await expect(stream[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: Code.ResourceExhausted });

    for (const q of kept) expect(releaseMessage(q)).toBe(true);
    expect(transport.stats().framesHeld).toBe(0);
    for (let i = 0; i < 3 * RECV_SLOTS; i++) {
      const q = await client.getQuote({ symbol: `R${i}`, payload: pattern(100, 10_000 + i) });
      expect(q.venuePayload).toEqual(pattern(100, 10_000 + i));
      releaseMessage(q);
    }

    // emitWarning is delivered on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.length).toBe(1);
    expect(warnings[0]?.message).toContain(`recvSlots ${RECV_SLOTS}`);
  });
});
