// Faults and load against live servers over each stream channel (uring tcp, uring unix,
// net tcp): a peer SIGKILLed mid-unary, mid-server-stream and mid-bidi in both directions
// (client processes: test/fixtures/hostile-client.js; server processes:
// test/fixtures/hostile-server.js), region exhaustion (back-pressure, then
// ResourceExhausted after the send timeout, memory bounded), event-loop stalls on either
// side, the write watchdog (ERR_SLOW_PEER), the connection limit, 10,000 concurrent
// streams on one connection, and floods whose cost must stay bounded (counted, never
// timed). Each test asserts the Connect code the affected call gets and that another
// connection keeps working. The defects these tests found are fixed; a test that caught
// one says so ("Fixed (issue 6)").

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import * as net from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { encodeCallStart, encodeMessage } from "../../src/frame/frames.js";
import { prepareMetadata } from "../../src/frame/metadata.js";
import { FrameKind } from "../../src/frame/constants.js";
import { NetEngine } from "../../src/channel/net-engine.js";
import { UringEngine } from "../../src/channel/uring-engine.js";
import { createUringTransport } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { Fixture, requireDist } from "../channel/support/processes.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { pushable } from "../connect/transport-suite.js";
import { CHANNELS, RawPeer, SteadyClient, boundedRoutes, bytesOf, framed, helloBytes, liveLeases, liveServer, pingBytes, sleep, until } from "./support.js";
import type { HostileChannel } from "./support.js";

requireDist(["index", "channel", "connect", "frame", "region", "binding", "errors"]);

interface Sample {
  t: number;
  rss: number;
  heapUsed: number;
  lagMs: number;
  connections: number;
  leases: number;
  leaseBytesInUse: number;
  calls: number;
  framesIn: number;
}

/**
 * Monitor ticks that fell inside a flood: consecutive samples between which the server
 * received frames. A server whose event loop stalls while frames keep coming receives the
 * whole flood between two ticks (a count of 1 or 2), whatever the machine's speed; one
 * that keeps turning spreads it over many. A count, not a time limit.
 */
function ticksDuring(samples: Sample[]): number {
  let ticks = 0;
  for (let i = 1; i < samples.length; i++) if (samples[i]!.framesIn > samples[i - 1]!.framesIn) ticks++;
  return ticks;
}

/** Samples from `first` on, while `flood` runs, and the one after it ended. */
async function samplesDuring(server: { samples: (timeoutMs?: number) => Promise<Sample> }, first: Sample, flood: Promise<unknown>): Promise<Sample[]> {
  let flooding = true;
  void flood.finally(() => (flooding = false));
  const samples = [first];
  while (flooding) samples.push(await server.samples(15_000)); // a wedged server prints nothing: the wait fails
  samples.push(await server.samples(15_000));
  return samples;
}

/** A Connect server in a child process (killable, stallable, monitored). */
async function serverProcess(channel: HostileChannel, options: object = {}): Promise<{ fixture: Fixture; url: string; samples: (timeoutMs?: number) => Promise<Sample> }> {
  const fixture = new Fixture("hostile-server.js", [channel.engine, channel.url(), JSON.stringify(options)]);
  onTestFinished(() => fixture.stop());
  const { url } = await fixture.line<{ url: string }>();
  return { fixture, url, samples: (timeoutMs = 15_000) => fixture.line<Sample>(timeoutMs) };
}

/** Listens with a node:net server on a fresh URL of the channel's kind; returns that URL. */
async function listenRaw(server: net.Server, channel: HostileChannel): Promise<string> {
  const want = channel.url();
  const unix = /^unix:\/\/(\/.*)$/.exec(want);
  await new Promise<void>((resolve) => (unix ? server.listen(unix[1], resolve) : server.listen(0, "127.0.0.1", resolve)));
  const address = server.address();
  return typeof address === "string" ? `unix://${address}` : `tcp://127.0.0.1:${address?.port}`;
}

function codeOf(e: unknown): Code {
  return ConnectError.from(e).code;
}

const MB = 1024 * 1024;
const sendTimeoutNote = "1 s after its calls failed (sendTimeoutMs 500)";

for (const channel of CHANNELS) {
  gatedDescribe(`faults: ${channel.name}`, channel.unavailable?.(), () => {
    describe("client SIGKILLed mid-call", () => {
      for (const mode of ["unary", "stream", "bidi"] as const) {
        it(`mid-${mode}: the handler's signal aborts with Unavailable, the connection and its leases are released, others unaffected`, async () => {
          const live = await liveServer(channel);
          const steady = new SteadyClient(live.url, channel.engine).start(1);
          await until(() => steady.ok > 0, 10_000, "the well-behaved client");
          const baseline = liveLeases(live);
          const key = `kill-${mode}-${channel.name}`;
          const fixture = new Fixture("hostile-client.js", [channel.engine, live.url, mode, key]);
          onTestFinished(() => fixture.stop());
          await fixture.line(); // the call is under way (sent, or a first message / ack came back)
          const watched = mode === "bidi" ? `${key}-0` : key;
          await until(() => live.log.started.has(watched), 10_000, "the handler to start");
          fixture.child.kill("SIGKILL");
          const reason = await live.log.waitAborted(watched, 10_000);
          expect(codeOf(reason)).toBe(Code.Unavailable);
          await until(() => live.server.stats().connections === 1, 10_000, "the killed client's connection to go");
          await until(() => liveLeases(live) <= baseline, 10_000, "leases back to the baseline");
          const { errors } = await steady.stop();
          expect(errors).toEqual([]);
        });
      }
    });

    describe("server SIGKILLed mid-call", () => {
      it("mid-unary, mid-server-stream, mid-bidi: each call fails with Unavailable at once; other servers unaffected", async () => {
        const other = await liveServer(channel);
        const steady = new SteadyClient(other.url, channel.engine).start(1);
        const server = await serverProcess(channel);
        const transport = createUringTransport({ url: server.url, engine: channel.engine });
        onTestFinished(() => transport.close());
        const client = createClient(MarketService, transport);

        const unary = client.getQuote({ symbol: "SLOW:60000" }).then(
          () => Code.OK as Code,
          (e: unknown) => codeOf(e),
        );
        let streamed = 0;
        const stream = (async () => {
          for await (const _ of client.subscribe({ symbols: ["S"], count: 0, intervalMs: 5 })) streamed++;
        })().then(
          () => Code.OK as Code,
          (e: unknown) => codeOf(e),
        );
        const orders = pushable<{ clientOrderId: string }>();
        let acked = 0;
        const bidi = (async () => {
          for await (const _ of client.trade(orders)) acked++;
        })().then(
          () => Code.OK as Code,
          (e: unknown) => codeOf(e),
        );
        orders.push({ clientOrderId: "o-1" });
        await until(() => streamed > 0 && acked > 0, 10_000, "the stream and the bidi call to flow");
        const killedAt = Date.now();
        server.fixture.child.kill("SIGKILL");
        expect(await unary).toBe(Code.Unavailable);
        expect(await stream).toBe(Code.Unavailable);
        expect(await bidi).toBe(Code.Unavailable);
        expect(Date.now() - killedAt, "calls fail when the connection dies, not at a deadline").toBeLessThan(5000);
        // A new call to the dead server fails fast too; the other server still serves.
        expect(codeOf(await client.getQuote({ symbol: "again" }).catch((e: unknown) => e))).toBe(Code.Unavailable);
        const before = steady.ok;
        await until(() => steady.ok > before, 10_000, "the other server to keep serving");
        expect((await steady.stop()).errors).toEqual([]);
      });
    });

    describe("event-loop stalls", () => {
      it("a server stalled for 1.5 s: calls in flight and new calls complete afterwards", async () => {
        const server = await serverProcess(channel, { monitorMs: 100 });
        const transport = createUringTransport({ url: server.url, engine: channel.engine });
        onTestFinished(() => transport.close());
        const client = createClient(MarketService, transport);
        expect((await client.getQuote({ symbol: "warm" })).symbol).toBe("warm");
        const stall = client.getQuote({ symbol: "STALL:1500" });
        await sleep(100);
        const during = await Promise.all(Array.from({ length: 50 }, (_, i) => client.getQuote({ symbol: `d${i}` }, { timeoutMs: 20_000 })));
        expect(during.map((q) => q.symbol)).toEqual(Array.from({ length: 50 }, (_, i) => `d${i}`));
        expect((await stall).symbol).toBe("STALL:1500");
        let maxLag = 0;
        for (let i = 0; i < 40 && maxLag < 1000; i++) maxLag = Math.max(maxLag, (await server.samples()).lagMs);
        expect(maxLag, "the server's loop really stalled").toBeGreaterThanOrEqual(1000);
        expect((await client.getQuote({ symbol: "after" })).symbol).toBe("after");
      });

      it("a client stalled for 1 s while a stream pours in: every message arrives, in order", async () => {
        const server = await serverProcess(channel);
        const transport = createUringTransport({ url: server.url, engine: channel.engine });
        onTestFinished(() => transport.close());
        const client = createClient(MarketService, transport);
        const seen: bigint[] = [];
        for await (const q of client.subscribe({ symbols: ["S"], count: 3000, payloadBytes: 64 })) {
          seen.push(q.sequence);
          if (seen.length === 10) {
            const until = Date.now() + 1000;
            while (Date.now() < until); // the client's loop is blocked; completions pile up
          }
        }
        expect(seen).toEqual(Array.from({ length: 3000 }, (_, i) => BigInt(i + 1)));
      });
    });

    // The heavier groups below run over TCP only (uring-unix shares the engine code with uring-tcp).
    const tcp = channel.name.endsWith("tcp");
    if (!tcp) {
      console.warn(`[skip] faults: ${channel.name}: region exhaustion, load and floods run over TCP only (this channel shares the engine code with its TCP twin; the groups are heavy)`);
    }
    describe.runIf(tcp)("region exhaustion", () => {
      it("client side: a server that stops reading → back-pressure, then ResourceExhausted after sendTimeoutMs; memory bounded; other connections fine", async () => {
        // A raw server: answers HELLO with a huge window, then never reads again.
        const sockets: net.Socket[] = [];
        const rawServer = net.createServer((socket) => {
          sockets.push(socket);
          socket.once("data", () => {
            socket.write(framed(helloBytes({ initialWindowBytes: 0xffff_ffff })));
            socket.pause();
          });
        });
        onTestFinished(() => {
          for (const s of sockets) s.destroy();
          rawServer.close();
        });
        const url = await listenRaw(rawServer, channel);
        const engine = channel.engine === "uring" ? new UringEngine({ region: { leaseBytes: 512 * 1024 } }) : new NetEngine({ region: { leaseBytes: 512 * 1024 } });
        onTestFinished(() => engine.close());
        const transport = createUringTransport({ url, engine, sendTimeoutMs: 500 });
        onTestFinished(() => transport.close());
        const client = createClient(MarketService, transport);
        const other = await liveServer(channel);
        const steady = new SteadyClient(other.url, channel.engine).start(1);
        const rssBefore = process.memoryUsage().rss;
        async function* endless(): AsyncGenerator<{ clientOrderId: string; signature: Uint8Array }> {
          for (let i = 0; ; i++) yield { clientOrderId: `o${i}`, signature: new Uint8Array(8000) };
        }
        const start = Date.now();
        const code = await client.submitOrders(endless()).then(
          () => Code.OK as Code,
          (e: unknown) => codeOf(e),
        );
        expect(code, "the call fails once the region stayed full for sendTimeoutMs").toBe(Code.ResourceExhausted);
        expect(Date.now() - start).toBeLessThan(10_000);
        expect(engine.region.stats().leaseBytesInUse).toBeLessThanOrEqual(512 * 1024);
        expect(process.memoryUsage().rss - rssBefore, "no growth beyond the region").toBeLessThan(64 * MB);
        const before = steady.ok;
        await until(() => steady.ok > before, 10_000, "another connection of this process to be served");
        expect((await steady.stop()).errors).toEqual([]);
      });

      it("server side: a peer that stops reading → the stuck call settles after sendTimeoutMs; memory bounded; leases back once it goes", async () => {
        const live = await liveServer(channel, { sendTimeoutMs: 500, region: { leaseBytes: 512 * 1024 } });
        const baseline = liveLeases(live);
        const rssBefore = process.memoryUsage().rss;
        const peer = await RawPeer.connect(live.url);
        peer.socket.pause(); // never reads: the server's sends pile up in the kernel, then in its region
        // Subscribe{symbols:["X"], count:0 (endless), payload_bytes:8000}; a window that never runs out.
        const request = new Uint8Array([0x0a, 1, 0x58, 0x10, 0, 0x18, 0xc0, 0x3e]);
        await peer.write(Buffer.concat([framed(helloBytes({ initialWindowBytes: 0xffff_ffff })), framed(bytesOf(encodeCallStart(1, "/market.v1.MarketService/Subscribe", prepareMetadata(undefined), undefined, request, true)))]));
        await until(() => live.log.started.has("X"), 5000, "the stream to start");
        await until(() => live.engine.region.stats().leaseBytesInUse > 256 * 1024, 10_000, "the region to fill");
        await until(() => live.server.stats().callsActive === 0, 10_000, "the stuck call to give up");
        expect(live.log.aborted.has("X"), "the handler's signal aborted").toBe(true);
        expect(live.engine.region.stats().leaseBytesInUse).toBeLessThanOrEqual(512 * 1024);
        expect(process.memoryUsage().rss - rssBefore, "no growth beyond the region").toBeLessThan(64 * MB);
        peer.destroy();
        await until(() => liveLeases(live) <= baseline, 10_000, "the stuck connection's leases to come back");
        const steady = new SteadyClient(live.url, channel.engine).start(1);
        await until(() => steady.ok > 3, 10_000, "new connections to be served");
        expect((await steady.stop()).errors).toEqual([]);
      });

      // Fixed (issue 6): a connection holds at most its share (maxUnsentBytes) and is closed after 2 × sendTimeoutMs without write progress.
      it("a peer that stops reading does not keep the lease area every connection shares", async () => {
        const live = await liveServer(channel, { sendTimeoutMs: 500, region: { leaseBytes: 512 * 1024 } });
        const peer = await RawPeer.connect(live.url);
        onTestFinished(() => peer.destroy());
        peer.socket.pause();
        // Two endless streams, 200-byte and empty payloads: the small frames fill whatever the large ones leave.
        const subscribe = (id: number, request: Uint8Array): Buffer =>
          framed(bytesOf(encodeCallStart(id, "/market.v1.MarketService/Subscribe", prepareMetadata(undefined), undefined, request, true)));
        await peer.write(
          Buffer.concat([
            framed(helloBytes({ initialWindowBytes: 0xffff_ffff })),
            subscribe(1, new Uint8Array([0x0a, 1, 0x58, 0x10, 0, 0x18, 0xc8, 0x01])),
            subscribe(3, new Uint8Array([0x0a, 1, 0x59, 0x10, 0])),
          ]),
        );
        await until(() => live.engine.region.stats().leaseBytesInUse > 256 * 1024, 10_000, "the region to fill");
        await until(() => live.server.stats().callsActive === 0, 10_000, "the stuck calls to give up (sendTimeoutMs)");
        await sleep(1000);
        const held = live.engine.region.stats().leaseBytesInUse;
        expect(held, `lease bytes held for one stuck peer, ${sendTimeoutNote}`).toBeLessThanOrEqual(256 * 1024);
      });

      it("the write watchdog: a peer that stops reading with the region far from full is closed (ERR_SLOW_PEER), its call fails Unavailable, its leases come back", async () => {
        // Large region, small sendTimeoutMs: nothing waits for region space (no
        // ResourceExhausted), so only the watchdog can end this: frames handed to the
        // channel stay unsent, nothing is written for 2 x sendTimeoutMs.
        const live = await liveServer(channel, { sendTimeoutMs: 250 });
        const baseline = liveLeases(live);
        const peer = await RawPeer.connect(live.url);
        onTestFinished(() => peer.destroy());
        peer.socket.pause();
        // Subscribe{symbols:["W"], count:0 (endless), payload_bytes:16384, interval_ms:5}; a window that never runs out.
        const request = new Uint8Array([0x0a, 1, 0x57, 0x10, 0, 0x18, 0x80, 0x80, 0x01, 0x20, 5]);
        await peer.write(Buffer.concat([framed(helloBytes({ initialWindowBytes: 0xffff_ffff })), framed(bytesOf(encodeCallStart(1, "/market.v1.MarketService/Subscribe", prepareMetadata(undefined), undefined, request, true)))]));
        await until(() => live.log.started.has("W"), 5000, "the stream to start");
        const reason = ConnectError.from(await live.log.waitAborted("W", 30_000));
        expect(reason.code, reason.message).toBe(Code.Unavailable);
        expect(reason.rawMessage).toMatch(/peer stopped reading: nothing written for \d+ ms/);
        await until(() => live.server.stats().connections === 0, 10_000, "the stalled connection to be closed by the server");
        peer.socket.resume(); // reads what was written before the stall, then the close
        expect(await peer.closedWithin(10_000), "the peer sees the close").toBe(true);
        await until(() => liveLeases(live) <= baseline, 10_000, "its unsent frames' leases to come back (dropped, never sent)");
        const steady = new SteadyClient(live.url, channel.engine).start(1);
        await until(() => steady.ok > 3, 10_000, "new connections to be served");
        expect((await steady.stop()).errors).toEqual([]);
      });
    });

    describe("connection limit", () => {
      it("the connection past maxConnections gets Unavailable naming the limit; the others keep working; a freed place is taken again", async () => {
        const live = await liveServer(channel, { maxConnections: 2 });
        const transports = [0, 1, 2].map(() => createUringTransport({ url: live.url, engine: channel.engine }));
        onTestFinished(() => Promise.all(transports.map((t) => t.close())).then(() => undefined));
        const [a, b, c] = transports.map((t) => createClient(MarketService, t)) as [ReturnType<typeof createClient<typeof MarketService>>, ReturnType<typeof createClient<typeof MarketService>>, ReturnType<typeof createClient<typeof MarketService>>];
        expect((await a.getQuote({ symbol: "A" })).symbol).toBe("A");
        expect((await b.getQuote({ symbol: "B" })).symbol).toBe("B");
        const refused = await c.getQuote({ symbol: "C" }).then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
        expect(refused?.code).toBe(Code.Unavailable);
        expect(refused?.rawMessage).toMatch(/connection limit \(2\)/);
        expect((await a.getQuote({ symbol: "A2" })).symbol).toBe("A2");
        await until(() => live.server.stats().connections === 2, 5000, "the refused connection to close");
        await transports[1]!.close();
        await until(() => live.server.stats().connections === 1, 5000, "the closed transport's connection to go");
        expect((await c.getQuote({ symbol: "C2" })).symbol).toBe("C2");
      });
    });

    describe.runIf(tcp)("load", () => {
      it("10,000 concurrent streams on one connection (server limit 10,000): all complete, all open at once", async () => {
        const counters = { running: 0, peak: 0, started: 0 };
        const live = await liveServer(channel, { maxConcurrentStreams: 10_000 }, boundedRoutes(counters, 3000));
        const transport = createUringTransport({ url: live.url, engine: channel.engine });
        onTestFinished(() => transport.close());
        const client = createClient(MarketService, transport);
        const rssBefore = process.memoryUsage().rss;
        const replies = await Promise.all(Array.from({ length: 10_000 }, () => client.getQuote({ symbol: "STUBBORN" }, { timeoutMs: 30_000 })));
        expect(replies.every((q) => q.symbol === "STUBBORN")).toBe(true);
        expect(counters.peak, "streams open at once").toBe(10_000);
        expect(live.server.stats().connections).toBe(1);
        expect(process.memoryUsage().rss - rssBefore, "memory for 10,000 streams").toBeLessThan(512 * MB);
      }, 60_000);

      // Fixed (issue 6): calls reserve their stream slot synchronously (FIFO waiters), so a burst never exceeds the server's limit.
      it("10,000 concurrent calls against the default limit (1024): the client queues, all complete, the server never exceeds it", async () => {
        const counters = { running: 0, peak: 0, started: 0 };
        const live = await liveServer(channel, {}, boundedRoutes(counters, 20));
        const transport = createUringTransport({ url: live.url, engine: channel.engine });
        onTestFinished(() => transport.close());
        const client = createClient(MarketService, transport);
        const replies = await Promise.all(Array.from({ length: 10_000 }, (_, i) => client.getQuote({ symbol: i % 2 === 0 ? "STUBBORN" : `q${i}` }, { timeoutMs: 30_000 })));
        expect(replies).toHaveLength(10_000);
        expect(counters.peak).toBeLessThanOrEqual(1024);
        expect(counters.started).toBe(10_000);
      }, 60_000);
    });

    describe.runIf(tcp)("floods", () => {
      // Fixed (issue 6): PONGs waiting to be sent coalesce into one, the send queue is bounded and drains in O(1).
      it("a PING flood from a peer that does not read costs bounded memory and no stall", async () => {
        const server = await serverProcess(channel, { monitorMs: 50, engine: { region: { leaseBytes: 1 * MB } } });
        const first = await server.samples();
        const peer = await RawPeer.connect(server.url);
        peer.socket.pause();
        await peer.write(framed(helloBytes()));
        const batch = Buffer.concat(Array.from({ length: 4096 }, (_, i) => framed(pingBytes(i + 1))));
        const flood = (async () => {
          const end = Date.now() + 1500;
          while (Date.now() < end && !peer.isClosed) if (!(await peer.write(batch))) break;
        })();
        const samples = await samplesDuring(server, first, flood);
        peer.destroy();
        const worst = Math.max(...samples.map((s) => s.heapUsed));
        expect(worst - first.heapUsed, "heap growth from the flood").toBeLessThan(64 * MB);
        expect(samples.at(-1)!.framesIn - first.framesIn, "PINGs the server read").toBeGreaterThan(4096);
        expect(ticksDuring(samples), `monitor ticks while PINGs arrived (framesIn: ${samples.map((s) => s.framesIn).join(" ")})`).toBeGreaterThanOrEqual(4);
      }, 60_000);

      // Found here first on io_uring (the pump kept reaping while completions kept coming:
      // one peer streaming without pause stalled timers and setImmediate for as long as it
      // streamed); fixed in df85b76 (every pump capped at 2 ms).
      it("a peer streaming frames nonstop does not stall the server's event loop", async () => {
        const server = await serverProcess(channel, { monitorMs: 50 });
        const first = await server.samples();
        const peer = await RawPeer.connect(server.url);
        peer.socket.on("data", () => undefined);
        // Stream 1 ends at once (unknown method); MESSAGE frames for it are then dropped silently.
        await peer.write(Buffer.concat([framed(helloBytes()), framed(bytesOf(encodeCallStart(1, "/x.Y/Z", prepareMetadata(undefined), undefined, undefined, true)))]));
        const late = Buffer.concat(Array.from({ length: 4096 }, () => framed(bytesOf(encodeMessage(1, new Uint8Array(8), false)))));
        const flood = (async () => {
          const end = Date.now() + 1500;
          while (Date.now() < end && !peer.isClosed) if (!(await peer.write(late))) break;
        })();
        const samples = await samplesDuring(server, first, flood);
        peer.destroy();
        expect(samples.at(-1)!.framesIn - first.framesIn, "frames the server read").toBeGreaterThan(4096);
        expect(ticksDuring(samples), `monitor ticks while frames arrived (framesIn: ${samples.map((s) => s.framesIn).join(" ")})`).toBeGreaterThanOrEqual(4);
      }, 60_000);

      // Issue 6: a TCP peer may end its side and still read; on io_uring its FIN used to
      // drop the queued answer and reset the call in flight.
      for (const [when, symbol] of [["", "A"], [" (answered 300 ms after the FIN)", "STUBBORN"]] as const) {
        it(`a peer that sends its request and half-closes still gets the answer${when}`, async () => {
          const live = await liveServer(channel, {}, boundedRoutes(undefined, 300));
          const peer = await RawPeer.connect(live.url);
          const request = new Uint8Array([0x0a, symbol.length, ...Buffer.from(symbol)]);
          await peer.write(Buffer.concat([framed(helloBytes()), framed(bytesOf(encodeCallStart(1, "/market.v1.MarketService/GetQuote", prepareMetadata(undefined), undefined, request, true)))]));
          peer.socket.end();
          expect(await peer.closedWithin(5000), "the server closes after answering").toBe(true);
          // PINGs probe a peer that ended its side while its call runs (a killed client's
          // kernel sends FIN too; docs/CHANNELS.md §4).
          expect(peer.frames().map((f) => f.kind).filter((k) => k !== FrameKind.PING)).toEqual([FrameKind.HELLO, FrameKind.END]);
        });
      }

      it("a peer that half-closes in the middle of its request stream is let go: the call is reset, the connection closes", async () => {
        const live = await liveServer(channel, {}, boundedRoutes());
        const peer = await RawPeer.connect(live.url);
        await peer.write(Buffer.concat([framed(helloBytes()), framed(bytesOf(encodeCallStart(1, "/market.v1.MarketService/SubmitOrders", prepareMetadata(undefined), undefined, undefined, false)))]));
        peer.socket.end();
        expect(await peer.closedWithin(5000), "the server lets the peer go").toBe(true);
        expect(peer.frames()[0]?.kind).toBe(FrameKind.HELLO);
      });
    });
  });
}
