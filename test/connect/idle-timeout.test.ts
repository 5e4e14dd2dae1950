// The server's idle timeout (ServerOptions.idleTimeoutMs): a connection without calls
// for that long is closed with GOAWAY; calls keep it open however they are spaced, and
// one timer serves every idle period (src/frame/session.ts #armIdle). The clock is
// vitest's fake one (setTimeout and performance.now only; the memory engine's
// setImmediate stays real), so "idle for 499 ms: open; 500 ms: closed" is exact on any
// machine, however loaded.
import { createClient } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { createMemoryEngine, createServer, createUringTransport } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { ServerLog, marketRoutes } from "./market-service.js";

const IDLE_MS = 500;

/** Real event-loop turns (setImmediate is not faked) until `cond`, at most 10,000 of them. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let turn = 0; !cond(); turn++) {
    if (turn > 10_000) throw new Error(`${what}: not within 10,000 event-loop turns`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Lets frames already sent be delivered and handled (a few real turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("server idle timeout", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("closes a connection idle for idleTimeoutMs, not one with calls in between", async () => {
    const server = createServer({ routes: marketRoutes(new ServerLog()), idleTimeoutMs: IDLE_MS });
    onTestFinished(() => server.close(0));
    const url = await server.listen(`memory://idle-${process.pid}`);
    // Count the connections the transport opens.
    const engine = createMemoryEngine();
    onTestFinished(() => engine.close());
    let opened = 0;
    const connect = engine.connect.bind(engine);
    engine.connect = (u, events) => {
      opened++;
      return connect(u, events);
    };
    const transport = createUringTransport({ url, engine });
    onTestFinished(() => transport.close());
    const client = createClient(MarketService, transport);

    // 20 calls 60 ms apart (1.2 s of the clock): each idle period is shorter than the timeout.
    for (let i = 0; i < 20; i++) {
      await client.getQuote({ symbol: "keep" });
      await settle();
      vi.advanceTimersByTime(60);
    }
    expect(opened).toBe(1);
    expect(server.stats().connections).toBe(1);

    // Then silence: closed once the timeout passed since the last call, not a tick before.
    await client.getQuote({ symbol: "last" });
    await settle();
    vi.advanceTimersByTime(IDLE_MS - 1);
    await settle();
    expect(server.stats().connections, `idle for ${IDLE_MS - 1} ms`).toBe(1);
    vi.advanceTimersByTime(1);
    await until(() => server.stats().connections === 0, `the server closing the connection idle for ${IDLE_MS} ms`);
    await until(() => transport.stats().connections === 0, "the transport seeing the close");

    // The next call reconnects.
    expect((await client.getQuote({ symbol: "again" })).symbol).toBe("again");
    expect(opened).toBe(2);
    expect(server.stats().connections).toBe(1);
  });
});
