// Ends of RDMA connections under live calls. A server process SIGKILLed mid-stream (the
// kernel tears its queue pairs and rdma_cm ids down): every call in flight fails with
// Unavailable within a bound, nothing hangs, the client frees what the connection held,
// and the next call reconnects to a server restarted on the same port. A server closed
// with calls in flight: calls that finish within the grace period succeed, the rest
// (a stream, a stuck call) fail with Unavailable, new calls are refused, and the client
// engine gets all its leases and keys back.
// Runs inside the soft-RoCE guest; skipped with the reason printed elsewhere.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterEach, beforeAll, expect, it, vi } from "vitest";
import { RdmaEngine } from "../../src/channel/rdma-engine.js";
import { createRdmaTransport, createServer } from "../../src/index.js";
import { Fixture, requireDist } from "../channel/support/processes.js";
import { ServerLog, marketRoutes } from "../connect/market-service.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { IP1, eventually, rdmaDescribe, rnrCountersStayZero, serverUrl, within } from "./support/rdma-env.js";

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

/** How long a call may take to learn that its peer is gone (generous: QEMU TCG). */
const GONE_WITHIN_MS = 20_000;

async function codeOf(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

/** Payload byte j of quote `seq` as test/fixtures/market-server.js makes it. */
function fixturePayload(seq: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let j = 0; j < length; j++) out[j] = (seq * 31 + j) & 0xff;
  return out;
}

rdmaDescribe("rdma peer death and server close", () => {
  beforeAll(() => requireDist(["index", "connect", "channel", "frame", "region", "binding", "errors", "capabilities"]));

  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function startServer(url: string): Promise<{ fixture: Fixture; url: string; started: Set<string> }> {
    const fixture = new Fixture("market-server.js", [url]);
    cleanup.push(() => fixture.stop());
    const { url: bound } = await fixture.line<{ url: string }>(60_000);
    const started = new Set<string>();
    void (async () => {
      for (;;) {
        const line = await fixture.line<{ started?: string }>(3_600_000).catch(() => undefined);
        if (!line) return;
        if (line.started) started.add(line.started);
      }
    })();
    return { fixture, url: bound, started };
  }

  it("a server process SIGKILLed mid-stream: calls in flight fail with Unavailable, nothing hangs, the next call reconnects", async () => {
    const first = await startServer(serverUrl());
    const engine = new RdmaEngine({ localAddress: IP1 });
    cleanup.push(() => engine.close());
    const baseline = engine.region.stats().liveLeases;
    const transport = createRdmaTransport({ url: first.url, engine, localAddress: IP1 });
    cleanup.push(() => transport.close());
    const client = createClient(MarketService, transport);
    expect((await within(client.getQuote({ symbol: "before" }), 30_000, "the first call")).symbol).toBe("before");

    // In flight when the server dies: an endless stream (small and large messages), stuck
    // unary calls, and a large request.
    const slot = engine.region.slotSize;
    let received = 0;
    const stream = (async () => {
      for await (const q of client.subscribe({ symbols: ["LIVE"], count: 0, intervalMs: 20, payloadBytes: slot + 100 })) {
        received++;
        expect(Buffer.from(q.venuePayload).equals(Buffer.from(fixturePayload(Number(q.sequence), slot + 100)))).toBe(true);
      }
    })();
    const stuck = Array.from({ length: 8 }, (_, i) => client.getQuote({ symbol: `STUCK-${i}`, delayMs: 600_000 }));
    const stuckCodes = stuck.map(codeOf);
    const streamCode = codeOf(stream);
    await eventually(() => received >= 3 && [0, 1, 2, 3, 4, 5, 6, 7].every((i) => first.started.has(`STUCK-${i}`)), "the calls are running", 30_000);
    const big = codeOf(client.getQuote({ symbol: "BIG", payload: new Uint8Array(2 * 1024 * 1024), delayMs: 600_000 }));

    const killedAt = Date.now();
    first.fixture.child.kill("SIGKILL");
    const codes = await within(Promise.all([streamCode, big, ...stuckCodes]), GONE_WITHIN_MS + 10_000, "calls in flight failing after SIGKILL");
    const took = Date.now() - killedAt;
    expect(codes).toEqual(new Array(10).fill(Code.Unavailable));
    expect(took).toBeLessThan(GONE_WITHIN_MS);
    expect(transport.stats().callsActive).toBe(0);
    // The dead connection gave back every lease it held (sends, reads, exports).
    await eventually(() => engine.region.stats().liveLeases <= baseline, "the client's leases came back");
    await eventually(() => engine.stats().channels === 0, "the client's channel is gone");

    // A server on the same port again: the same transport reconnects on its next call.
    const second = await startServer(first.url);
    expect(second.url).toBe(first.url);
    expect((await within(client.getQuote({ symbol: "after" }), 30_000, "the first call after the restart")).symbol).toBe("after");
    const again = await within(
      (async () => {
        const sequences: number[] = [];
        for await (const q of client.subscribe({ symbols: ["AGAIN"], count: 5, payloadBytes: slot + 100 })) {
          expect(Buffer.from(q.venuePayload).equals(Buffer.from(fixturePayload(Number(q.sequence), slot + 100)))).toBe(true);
          sequences.push(Number(q.sequence));
        }
        return sequences;
      })(),
      30_000,
      "a stream after the restart",
    );
    expect(again).toEqual([1, 2, 3, 4, 5]);
    expect(engine.stats().channels).toBe(1);
  });

  it("server close with calls in flight: calls within the grace period finish, the rest fail with Unavailable, nothing leaks", async () => {
    const log = new ServerLog();
    const server = createServer({ routes: marketRoutes(log), allowUnprotected: true });
    cleanup.push(() => server.close(0));
    const url = await server.listen(serverUrl());
    const engine = new RdmaEngine({ localAddress: IP1 });
    cleanup.push(() => engine.close());
    const baseline = engine.region.stats().liveLeases;
    const transport = createRdmaTransport({ url, engine, localAddress: IP1 });
    cleanup.push(() => transport.close());
    const client = createClient(MarketService, transport);
    expect((await within(client.getQuote({ symbol: "warm-up" }), 30_000, "the first call")).symbol).toBe("warm-up");

    const slot = engine.region.slotSize;
    const quick = Array.from({ length: 16 }, (_, i) =>
      client.getQuote({ symbol: `Q${i}`, delayMs: 300, payload: new Uint8Array(i % 4 === 0 ? slot * 4 : 100).fill(i) }),
    );
    // Awaited below; marked handled now so that a failure before that point reports
    // itself instead of a pile of unhandled rejections.
    for (const call of quick) call.catch(() => undefined);
    const stuck = codeOf(client.getQuote({ symbol: "STUCK", delayMs: 600_000 }));
    let ticks = 0;
    const stream = codeOf(
      (async () => {
        for await (const _ of client.subscribe({ symbols: ["TICKS"], count: 0, intervalMs: 20 })) ticks++;
      })(),
    );
    await eventually(() => log.started.has("STUCK") && log.started.has("TICKS") && [...Array(16).keys()].every((i) => log.started.has(`Q${i}`)), "the calls are running", 30_000);

    const graceMs = 3000;
    const closedAt = Date.now();
    const closing = server.close(graceMs);
    expect(await within(codeOf(client.getQuote({ symbol: "NEW" })), 30_000, "a call after close()")).toBe(Code.Unavailable);
    const replies = await within(Promise.all(quick), graceMs + GONE_WITHIN_MS, "the calls within the grace period");
    expect(replies.map((q) => q.symbol)).toEqual([...Array(16).keys()].map((i) => `Q${i}`));
    expect(replies.map((q) => q.venuePayload.byteLength)).toEqual([...Array(16).keys()].map((i) => (i % 4 === 0 ? slot * 4 : 100)));
    expect(await within(Promise.all([stuck, stream]), graceMs + GONE_WITHIN_MS, "the calls beyond the grace period")).toEqual([
      Code.Unavailable,
      Code.Unavailable,
    ]);
    await within(closing, GONE_WITHIN_MS, "server.close()");
    expect(Date.now() - closedAt).toBeLessThan(graceMs + GONE_WITHIN_MS);
    expect(ticks).toBeGreaterThan(0);
    expect([log.abortedCode("STUCK"), log.abortedCode("TICKS")]).toEqual([Code.Unavailable, Code.Unavailable]);
    expect(transport.stats().callsActive).toBe(0);
    await eventually(() => engine.region.stats().liveLeases <= baseline, "the client's leases came back");
    await eventually(() => engine.stats().keysGranted === engine.stats().keysRevoked, "every key the client granted was revoked");
    expect(engine.stats().keysGranted).toBeGreaterThanOrEqual(4);
  });

  rnrCountersStayZero();
});
