// The transport suite on the in-memory engine (memory://), plus what only the memory
// engine can set up deterministically: a region that fills up (back-pressure).
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import { createMemoryEngine, createServer, createUringTransport, releaseMessage } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import type { Quote } from "../gen/market/v1/market_pb.js";
import { ServerLog, marketRoutes, sleep } from "./market-service.js";
import { transportSuite } from "./transport-suite.js";

let n = 0;
transportSuite("memory", {
  listenUrl: () => `memory://suite-${process.pid}-${++n}`,
});

describe("back-pressure when the region is full (memory engine)", () => {
  it("sends wait for space, fail with ResourceExhausted after sendTimeoutMs, and recover", async () => {
    const server = createServer({ routes: marketRoutes(new ServerLog()) });
    onTestFinished(() => server.close(0));
    const url = await server.listen(`memory://backpressure-${process.pid}`);
    // A 256 KiB client region; alias-decoded responses of ~60 KiB hold one 64 KiB slot each.
    const engine = createMemoryEngine({ regionBytes: 256 * 1024, maxFrameBytes: 128 * 1024 });
    onTestFinished(() => engine.close());
    const transport = createUringTransport({ url, engine, bytes: "alias", sendTimeoutMs: 200 });
    onTestFinished(() => transport.close());
    const client = createClient(MarketService, transport);

    const held: Quote[] = [];
    for (let i = 0; i < 4; i++) held.push(await client.getQuote({ symbol: `H${i}`, responsePayloadBytes: 60_000 }));
    expect(engine.stats().leasedBytes).toBe(256 * 1024);

    // Full: the request cannot get a lease; after the bound it fails, nothing grew.
    const t0 = Date.now();
    const e = ConnectError.from(await client.getQuote({ symbol: "FULL" }).catch((x: unknown) => x));
    expect(e.code).toBe(Code.ResourceExhausted);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(engine.stats().poolBytes).toBeLessThanOrEqual(256 * 1024);

    // A send that waits succeeds once space is released within the bound.
    const waiting = client.getQuote({ symbol: "WAITS" });
    await sleep(50);
    releaseMessage(held.pop() as Quote);
    const w = await waiting;
    expect(w.symbol).toBe("WAITS");
    expect(releaseMessage(w)).toBe(true);

    for (const q of held) releaseMessage(q);
    expect(transport.stats().framesHeld).toBe(0);
    expect((await client.getQuote({ symbol: "AFTER", responsePayloadBytes: 60_000 })).venuePayload.byteLength).toBe(60_000);
    expect(transport.stats().connections).toBe(1);
  });
});

describe("back-pressure on the server's side (memory engine)", () => {
  it("a unary answer that waits for region space keeps its call active until it was handed over", async () => {
    // The server's region takes two 64 KiB response frames (plus small ones); the client
    // holds alias-decoded responses until its region has room for small frames only, so
    // responses stay in the server's region and the third one has to wait for space.
    const serverEngine = createMemoryEngine({ regionBytes: (128 + 16) * 1024, maxFrameBytes: 128 * 1024 });
    onTestFinished(() => serverEngine.close());
    const server = createServer({ routes: marketRoutes(new ServerLog()), engine: serverEngine });
    onTestFinished(() => server.close(0));
    const url = await server.listen(`memory://server-backpressure-${process.pid}`);
    const clientEngine = createMemoryEngine({ regionBytes: (256 + 16) * 1024, maxFrameBytes: 128 * 1024 });
    onTestFinished(() => clientEngine.close());
    const transport = createUringTransport({ url, engine: clientEngine, bytes: "alias" });
    onTestFinished(() => transport.close());
    const client = createClient(MarketService, transport);

    const held: Quote[] = [];
    for (let i = 0; i < 4; i++) held.push(await client.getQuote({ symbol: `H${i}`, responsePayloadBytes: 60_000 }));
    // getQuote answers these synchronously (no delay): the server's synchronous path.
    const waiting = ["A", "B", "C"].map((symbol) => client.getQuote({ symbol, responsePayloadBytes: 60_000 }));
    await sleep(100);
    // A and B were handed to the channel (they wait in its region); C's END waits in the
    // session's send queue, and C holds its call (and stream slot) until it leaves.
    expect(server.stats().callsActive).toBe(1);
    expect(serverEngine.stats().leasedBytes).toBeGreaterThanOrEqual(128 * 1024);

    for (const q of held.splice(0)) releaseMessage(q);
    const answers = await Promise.all(waiting);
    expect(answers.map((q) => [q.symbol, q.venuePayload.byteLength])).toEqual([
      ["A", 60_000],
      ["B", 60_000],
      ["C", 60_000],
    ]);
    for (const q of answers) releaseMessage(q);
    expect(server.stats().callsActive).toBe(0);
    expect(transport.stats().framesHeld).toBe(0);
  });
});

describe("frames near the channel's frame limit (memory engine)", () => {
  it("a unary request or reply too big for one frame with its metadata is split, not refused", async () => {
    const small = { maxFrameBytes: 64 * 1024 };
    const serverEngine = createMemoryEngine(small);
    onTestFinished(() => serverEngine.close());
    const server = createServer({ routes: marketRoutes(new ServerLog()), engine: serverEngine });
    onTestFinished(() => server.close(0));
    const url = await server.listen(`memory://split-${process.pid}`);
    const clientEngine = createMemoryEngine(small);
    onTestFinished(() => clientEngine.close());
    const transport = createUringTransport({ url, engine: clientEngine });
    onTestFinished(() => transport.close());
    const client = createClient(MarketService, transport);
    const headers = { "x-big": "h".repeat(20_000) };
    const q = await client.getQuote({ symbol: "SPLIT", payload: new Uint8Array(50_000).fill(3) }, { headers });
    expect(q.venuePayload.byteLength).toBe(50_000);
    expect(q.venuePayload.every((b) => b === 3)).toBe(true);
    const before = transport.stats().framesOut;
    await client.getQuote({ symbol: "ONE", payload: new Uint8Array(100) });
    expect(transport.stats().framesOut - before).toBe(1);
  });
});
