// A streaming handler whose messages are all accepted at once (the flow-control window
// and the region have room for all of them) must still let the event loop turn while it
// produces: sends only go out when the loop turns, and other calls and timers of the
// process wait for it. Both sides let the loop turn after every 64 KiB a stream sent
// (src/connect/next-turn.ts). Asserted without timing: a setImmediate chain counts the
// loop turns that happened while ~1 MiB of messages was produced.
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import { createServer, createUringTransport } from "../../src/index.js";
import { EchoMessageSchema } from "../../bench/gen/bench/v1/bench_pb.js";
import { BenchService } from "../../bench/gen/bench/v1/bench_pb.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { ServerLog, marketRoutes } from "./market-service.js";

const MESSAGES = 960;
const PAYLOAD = 1024; // 960 × ~1 KiB: inside the default 1 MiB window, so no credit waits
const MIN_TURNS = Math.floor((MESSAGES * PAYLOAD) / (64 * 1024)) - 1; // without the yield: 0

/** Counts event-loop turns until stop() returns the count. */
function countTurns(): { stop(): number } {
  let turns = 0;
  let counting = true;
  const tick = (): void => {
    if (!counting) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop() {
      counting = false;
      return turns;
    },
  };
}

describe("a fast streaming handler lets the event loop turn", () => {
  it("server streaming: the loop turns at least once per 64 KiB sent", async () => {
    let turnsWhileStreaming = -1;
    const server = createServer({
      routes: (router) =>
        router.service(BenchService, {
          echo: (req) => req,
          async *stream() {
            const message = create(EchoMessageSchema, { payload: new Uint8Array(PAYLOAD).fill(7) });
            const turns = countTurns();
            for (let i = 0; i < MESSAGES; i++) yield message;
            turnsWhileStreaming = turns.stop();
          },
        }),
    });
    onTestFinished(() => server.close(0));
    const url = await server.listen(`memory://stream-turns-${process.pid}`);
    const transport = createUringTransport({ url });
    onTestFinished(() => transport.close());
    const client = createClient(BenchService, transport);
    let received = 0;
    for await (const m of client.stream({ payloadBytes: PAYLOAD, count: BigInt(MESSAGES) })) {
      expect(m.payload.byteLength).toBe(PAYLOAD);
      received++;
    }
    expect(received).toBe(MESSAGES);
    expect(turnsWhileStreaming).toBeGreaterThanOrEqual(MIN_TURNS);
  });

  it("client streaming: the loop turns at least once per 64 KiB sent", async () => {
    const server = createServer({ routes: marketRoutes(new ServerLog()) });
    onTestFinished(() => server.close(0));
    const url = await server.listen(`memory://stream-turns-client-${process.pid}`);
    const transport = createUringTransport({ url });
    onTestFinished(() => transport.close());
    const client = createClient(MarketService, transport);
    let turnsWhileSending = -1;
    async function* orders() {
      const turns = countTurns();
      for (let i = 0; i < MESSAGES; i++) yield { clientOrderId: `o${i}`, symbol: "ACME", quantity: 1n, signature: new Uint8Array(PAYLOAD) };
      turnsWhileSending = turns.stop();
    }
    const summary = await client.submitOrders(orders());
    expect(summary.accepted).toBe(MESSAGES);
    expect(turnsWhileSending).toBeGreaterThanOrEqual(MIN_TURNS);
  });
});
