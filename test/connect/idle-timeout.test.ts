// The server's idle timeout (ServerOptions.idleTimeoutMs): a connection without calls
// for that long is closed with GOAWAY; calls keep it open however they are spaced, and
// one timer serves every idle period (src/frame/session.ts #armIdle).
import { createClient } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import { createMemoryEngine, createServer, createUringTransport } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { ServerLog, marketRoutes, sleep } from "./market-service.js";

async function until(cond: () => boolean): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > 5000) throw new Error("condition not met in time");
    await sleep(5);
  }
}

describe("server idle timeout", () => {
  it("closes a connection idle for idleTimeoutMs, not one with calls in between", async () => {
    const server = createServer({ routes: marketRoutes(new ServerLog()), idleTimeoutMs: 500 });
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

    // Calls 60 ms apart for 1.2 s: each idle period is shorter than the timeout.
    const start = Date.now();
    while (Date.now() - start < 1200) {
      await client.getQuote({ symbol: "keep" });
      await sleep(60);
    }
    expect(opened).toBe(1);
    expect(server.stats().connections).toBe(1);

    // Then silence: closed once the timeout passed since the last call, not before.
    await client.getQuote({ symbol: "last" });
    const last = Date.now();
    while (server.stats().connections > 0 && Date.now() - last < 5000) await sleep(10);
    const idleFor = Date.now() - last;
    expect(server.stats().connections).toBe(0);
    expect(idleFor).toBeGreaterThanOrEqual(490);
    await until(() => transport.stats().connections === 0);

    // The next call reconnects.
    expect((await client.getQuote({ symbol: "again" })).symbol).toBe("again");
    expect(opened).toBe(2);
    expect(server.stats().connections).toBe(1);
  });
});
