// The transport suite: every Connect semantic of issue 3 against one channel target.
// Each engine's test file calls transportSuite() with a target (a URL factory and
// options); the same assertions then hold for memory, uring-tcp, uring-unix, net, rdma
// (a target may bring its own transport factory, e.g. createRdmaTransport with a source
// address, and the engine options its raw connections need).

import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, decodeBinaryHeader, encodeBinaryHeader } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import { engineForUrl } from "../../src/channel/engines.js";
import type { Channel } from "../../src/channel/channel.js";
import type { EngineOptions } from "../../src/channel/engines.js";
import { FrameKind, PROTOCOL_VERSION } from "../../src/frame/constants.js";
import { encodeHello } from "../../src/frame/frames.js";
import { parseFrame } from "../../src/frame/parse-frame.js";
import type { Frame } from "../../src/frame/frames.js";
import { createServer, createUringTransport } from "../../src/index.js";
import type { Server, ServerOptions, UringTransport, UringTransportOptions } from "../../src/index.js";
import { MarketService, OrderSchema, RejectReasonSchema, ReportingService } from "../gen/market/v1/market_pb.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { NASTY_TEXT, ServerLog, marketRoutes, pattern, sleep } from "./market-service.js";
import { LIMIT_CASES, SIZED_CALLS, SIZE_KNOB } from "./sized-calls.js";
import type { CallSizes } from "./sized-calls.js";

/** Where the suite runs. */
export interface TransportTarget {
  /** A fresh URL to listen on for each server (port 0 / unique names are fine). */
  listenUrl(): string;
  /** Extra server options (e.g. an engine). */
  serverOptions?: () => Partial<ServerOptions>;
  /** Extra transport options (e.g. an engine). */
  transportOptions?: () => Partial<UringTransportOptions>;
  /** Channels of this target also exist without our protocol: raw-frame tests use engineForUrl(). */
  rawFrames?: boolean;
  /** The engine for tcp:// and unix:// URLs (servers, transports and raw connections); default "auto". */
  engine?: "uring" | "net";
  /** Why this target cannot run here (the suite is then gated: skipped, or failed under CI=true). */
  unavailable?: () => string | undefined;
  /** Makes the client transport (default createUringTransport), e.g. createRdmaTransport with a localAddress. */
  createTransport?: (options: UringTransportOptions) => UringTransport;
  /** Engine options of raw-frame connections (engineForUrl), e.g. an RDMA source address. */
  rawEngineOptions?: () => EngineOptions;
}

interface Setup {
  server: Server;
  url: string;
  transport: UringTransport;
  client: ReturnType<typeof createClient<typeof MarketService>>;
  log: ServerLog;
}

type OrderInit = MessageInitShape<typeof OrderSchema>;

/** An async iterable the test pushes into (for client and bidi streams). */
export function pushable<T>(): AsyncIterable<T> & { push(v: T): void; end(): void } {
  const queue: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  return {
    push(v) {
      queue.push(v);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length > 0) yield queue.shift() as T;
        if (ended) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    },
  };
}

function order(i: number, extra: { symbol?: string; clientOrderId?: string } = {}): OrderInit {
  return {
    clientOrderId: `c-${i}`,
    symbol: "MSFT",
    price: 400 + i,
    quantity: BigInt(i),
    signature: pattern(32, i),
    legs: [pattern(8, i + 1000)],
    ...extra,
  };
}

async function codeOf(p: Promise<unknown>): Promise<Code> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e).code;
  }
  throw new Error("expected the call to fail");
}

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await sleep(5);
  }
}

/** Registers the suite for `target` under describe(name). */
export function transportSuite(name: string, target: TransportTarget): void {
  const engine = target.engine !== undefined ? { engine: target.engine } : {};
  const makeTransport = target.createTransport ?? createUringTransport;
  async function setup(
    server: Partial<ServerOptions> = {},
    transport: Partial<UringTransportOptions> = {},
  ): Promise<Setup> {
    const log = new ServerLog();
    const s = createServer({ routes: marketRoutes(log), allowUnprotected: true, ...engine, ...target.serverOptions?.(), ...server });
    onTestFinished(() => s.close(0));
    const url = await s.listen(target.listenUrl());
    const t = makeTransport({ url, ...engine, ...target.transportOptions?.(), ...transport });
    onTestFinished(() => t.close());
    return { server: s, url, transport: t, client: createClient(MarketService, t), log };
  }

  gatedDescribe(`transport suite: ${name}`, target.unavailable?.(), () => {
    describe("RPC kinds", () => {
      it("unary round trip with bytes fields", async () => {
        const { client } = await setup();
        const q = await client.getQuote({ symbol: "AAPL", payload: pattern(100, 1), responsePayloadBytes: 50 });
        expect(q.symbol).toBe("AAPL");
        expect(q.sequence).toBe(1n);
        expect(q.venuePayload).toEqual(new Uint8Array([...pattern(100, 1), ...pattern(50, 7)]));
      });

      it("server streaming delivers every message in order", async () => {
        const { client } = await setup();
        const got: bigint[] = [];
        for await (const q of client.subscribe({ symbols: ["A", "B"], count: 50, payloadBytes: 300 })) {
          expect(q.venuePayload).toEqual(pattern(300, Number(q.sequence)));
          got.push(q.sequence);
        }
        expect(got).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
      });

      it("client streaming aggregates all requests", async () => {
        const { client } = await setup();
        const orders = Array.from({ length: 40 }, (_, i) => order(i + 1));
        async function* gen(): AsyncGenerator<OrderInit> {
          for (const o of orders) yield o;
        }
        const summary = await client.submitOrders(gen());
        expect(summary.accepted).toBe(40);
        expect(summary.totalQuantity).toBe(BigInt((40 * 41) / 2));
        expect(summary.orderIds).toEqual(orders.map((o) => o.clientOrderId));
        const { createHash } = await import("node:crypto");
        const h = createHash("sha256");
        for (const o of orders) {
          h.update(o.signature as Uint8Array);
          for (const l of o.legs as Uint8Array[]) h.update(l);
        }
        expect(summary.digest).toEqual(new Uint8Array(h.digest()));
      });

      it("bidi streaming is full duplex (interleaved ping-pong)", async () => {
        const { client } = await setup();
        const input = pushable<OrderInit>();
        let header: Headers | undefined;
        let trailer: Headers | undefined;
        const it = client
          .trade(input, { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) })
          [Symbol.asyncIterator]();
        for (let i = 1; i <= 10; i++) {
          // The next order is only produced after the previous ack arrived.
          input.push(order(i));
          const r = await it.next();
          expect(r.done).toBe(false);
          expect(r.value?.sequence).toBe(BigInt(i));
          expect(r.value?.signatureEcho).toEqual(pattern(32, i));
        }
        input.end();
        expect((await it.next()).done).toBe(true);
        expect(header?.get("x-session")).toBe("trade");
        expect(trailer?.get("x-acks")).toBe("10");
      });

      it("bidi with an empty request stream", async () => {
        const { client } = await setup();
        const acks = [];
        for await (const a of client.trade((async function* () {})())) acks.push(a);
        expect(acks).toEqual([]);
      });
    });

    describe("headers and trailers", () => {
      it("request headers, response headers and trailers round-trip, -bin included", async () => {
        const { client, log } = await setup();
        const unicode = new TextEncoder().encode("日本語 ✓ 🚀 ünïcødé");
        let header: Headers | undefined;
        let trailer: Headers | undefined;
        await client.getQuote(
          { symbol: "HDR" },
          {
            headers: { "x-trace": "abc-123", "x-latin": "caf\u00e9 \u00ff", "x-blob-bin": encodeBinaryHeader(unicode) },
            onHeader: (h) => (header = h),
            onTrailer: (t) => (trailer = t),
          },
        );
        const seen = log.headers.get("HDR");
        expect(seen?.get("x-trace")).toBe("abc-123");
        expect(seen?.get("x-latin")).toBe("caf\u00e9 \u00ff");
        expect(decodeBinaryHeader(seen?.get("x-blob-bin") ?? "")).toEqual(unicode);
        expect(header?.get("x-trace-echo")).toBe("abc-123");
        expect(header?.get("x-latin-echo")).toBe("caf\u00e9 \u00ff");
        expect(decodeBinaryHeader(header?.get("x-blob-bin-echo") ?? "")).toEqual(unicode);
        expect(trailer?.get("x-trace-trailer")).toBe("abc-123");
        expect(trailer?.get("x-blob-length")).toBe(String(unicode.byteLength));
        expect(header?.get("x-trace-trailer")).toBeNull();
      });

      it("streaming calls expose headers before messages and trailers after", async () => {
        const { client } = await setup();
        const order: string[] = [];
        for await (const _ of client.subscribe(
          { symbols: ["X"], count: 3 },
          {
            headers: { "x-sub": "1" },
            onHeader: (h) => order.push(`header:${h.get("x-stream")}:${h.get("x-sub-echo")}`),
            onTrailer: (t) => order.push(`trailer:${t.get("x-count")}`),
          },
        )) {
          order.push("msg");
        }
        expect(order).toEqual(["header:subscribe:1", "msg", "msg", "msg", "trailer:3"]);
        let trailer: Headers | undefined;
        await client.submitOrders(
          (async function* () {
            yield order1();
          })(),
          { onTrailer: (t) => (trailer = t) },
        );
        expect(trailer?.get("x-orders")).toBe("1");
        function order1(): OrderInit {
          return { clientOrderId: "one", quantity: 1n };
        }
      });
    });

    describe("errors", () => {
      function expectFailError(e: ConnectError, code: Code, symbol: string): void {
        expect(e.code).toBe(code);
        expect(e.rawMessage).toBe(NASTY_TEXT);
        expect(e.metadata.get("x-error-id")).toBe("e-42");
        expect(decodeBinaryHeader(e.metadata.get("x-error-bin") ?? "")).toEqual(new Uint8Array([0, 1, 2, 250, 255]));
        const details = e.findDetails(RejectReasonSchema);
        expect(details).toHaveLength(1);
        expect(details[0]).toEqual(
          create(RejectReasonSchema, { reason: "limit breached ✓", symbol, context: new Uint8Array([9, 8, 7]) }),
        );
      }

      it("code, Unicode/control-character message, metadata and details round-trip (unary)", async () => {
        const { client } = await setup();
        const e = await client.getQuote({ symbol: "FAIL:9" }).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(ConnectError);
        expectFailError(e as ConnectError, Code.FailedPrecondition, "FAIL:9");
      });

      it("every code survives", async () => {
        const { client } = await setup();
        for (let c = 1; c <= 16; c++) {
          expect(await codeOf(client.getQuote({ symbol: `FAIL:${c}` }))).toBe(c);
        }
      });

      it("a unary handler's error is the same thrown at once or rejected after an await", async () => {
        const { client } = await setup();
        for (const delayMs of [0, 1]) {
          const e = await client.getQuote({ symbol: "FAIL:9", delayMs }).catch((x: unknown) => x);
          expect(e, `delayMs ${delayMs}`).toBeInstanceOf(ConnectError);
          expectFailError(e as ConnectError, Code.FailedPrecondition, "FAIL:9");
          const plain = ConnectError.from(await client.getQuote({ symbol: "THROW", delayMs }).catch((x: unknown) => x));
          expect([plain.code, plain.rawMessage], `delayMs ${delayMs}`).toEqual([Code.Internal, "internal error"]);
        }
      });

      it("a handler's error mid-stream reaches the client after the messages before it", async () => {
        const { client } = await setup();
        const got: bigint[] = [];
        let error: unknown;
        try {
          for await (const q of client.subscribe({ symbols: ["E"], count: 10, failAfter: 3 })) got.push(q.sequence);
        } catch (e) {
          error = e;
        }
        expect(got).toEqual([1n, 2n, 3n]);
        expectFailError(ConnectError.from(error), Code.Aborted, `FAIL:${Code.Aborted}`);
      });

      it("errors from client-streaming and bidi handlers", async () => {
        const { client } = await setup();
        const e1 = await client
          .submitOrders(
            (async function* () {
              yield order(1);
              yield order(2, { symbol: "FAIL:7" });
            })(),
          )
          .catch((x: unknown) => ConnectError.from(x));
        expectFailError(e1 as ConnectError, Code.PermissionDenied, "FAIL:7");
        const acks: bigint[] = [];
        const e2 = await (async () => {
          for await (const a of client.trade(
            (async function* () {
              yield order(1);
              yield order(2, { symbol: "FAIL:10" });
            })(),
          )) {
            acks.push(a.sequence);
          }
        })().catch((x: unknown) => ConnectError.from(x));
        expect(acks).toEqual([1n]);
        expectFailError(e2 as ConnectError, Code.Aborted, "FAIL:10");
      });

      it("a plain Error thrown by a handler is Internal without leaking its message", async () => {
        const { client } = await setup();
        const e = ConnectError.from(await client.getQuote({ symbol: "THROW" }).catch((x: unknown) => x));
        expect(e.code).toBe(Code.Internal);
        expect(e.rawMessage).toBe("internal error");
      });

      it("unknown service and unknown method are Unimplemented", async () => {
        const { transport } = await setup();
        const reporting = createClient(ReportingService, transport);
        expect(await codeOf(reporting.dailyReport({ symbol: "X" }))).toBe(Code.Unimplemented);
      });

      it("a method missing from the implementation is Unimplemented", async () => {
        const { client } = await setup();
        const e = ConnectError.from(await client.cancelAll({ symbol: "X" }).catch((x: unknown) => x));
        expect(e.code).toBe(Code.Unimplemented);
        expect(e.rawMessage).toBe("market.v1.MarketService.CancelAll is not implemented");
      });
    });

    describe("deadlines and cancellation", () => {
      it("timeoutMs: DeadlineExceeded on the client and the handler's signal aborts", async () => {
        const { client, log } = await setup();
        // Connected first: the deadline is about the call, not about connection setup
        // (which alone can take longer than 150 ms on a slow target: RDMA under QEMU TCG).
        await client.getQuote({ symbol: "warm-up" });
        const start = Date.now();
        expect(await codeOf(client.getQuote({ symbol: "SLOW", delayMs: 10_000 }, { timeoutMs: 150 }))).toBe(Code.DeadlineExceeded);
        expect(Date.now() - start).toBeLessThan(5000);
        await log.waitAborted("SLOW");
        expect(log.abortedCode("SLOW")).toBe(Code.DeadlineExceeded);
        expect(log.finished.has("SLOW")).toBe(false);
      });

      it("a deadline ends a server stream", async () => {
        const { client, log } = await setup();
        await client.getQuote({ symbol: "warm-up" }); // connected first, as above
        let n = 0;
        const code = await codeOf(
          (async () => {
            for await (const _ of client.subscribe({ symbols: ["TICK"], count: 0, intervalMs: 10 }, { timeoutMs: 200 })) n++;
          })(),
        );
        expect(code).toBe(Code.DeadlineExceeded);
        expect(n).toBeGreaterThan(0);
        await log.waitAborted("TICK");
        expect(log.abortedCode("TICK")).toBe(Code.DeadlineExceeded);
      });

      it("AbortSignal: Canceled on the client and the handler's signal aborts (unary)", async () => {
        const { client, log } = await setup();
        const ac = new AbortController();
        const p = codeOf(client.getQuote({ symbol: "CXL", delayMs: 10_000 }, { signal: ac.signal }));
        await until(() => log.started.has("CXL"));
        ac.abort();
        expect(await p).toBe(Code.Canceled);
        await log.waitAborted("CXL");
        expect(log.abortedCode("CXL")).toBe(Code.Canceled);
      });

      it("AbortSignal cancels a server stream and a bidi stream", async () => {
        const { client, log } = await setup();
        const ac = new AbortController();
        let n = 0;
        const code = await codeOf(
          (async () => {
            for await (const _ of client.subscribe({ symbols: ["CXS"], count: 0, intervalMs: 5 }, { signal: ac.signal })) {
              if (++n === 3) ac.abort();
            }
          })(),
        );
        expect(code).toBe(Code.Canceled);
        expect(n).toBe(3);
        await log.waitAborted("CXS");

        const ac2 = new AbortController();
        const input = pushable<OrderInit>();
        const it = client.trade(input, { signal: ac2.signal })[Symbol.asyncIterator]();
        input.push(order(1, { clientOrderId: "bidi-cxl" }));
        expect((await it.next()).value?.sequence).toBe(1n);
        ac2.abort();
        expect(await codeOf(it.next())).toBe(Code.Canceled);
        await log.waitAborted("bidi-cxl");
        expect(log.abortedCode("bidi-cxl")).toBe(Code.Canceled);
      });

      it("an already aborted signal fails at once", async () => {
        const { client } = await setup();
        const ac = new AbortController();
        ac.abort();
        expect(await codeOf(client.getQuote({ symbol: "X" }, { signal: ac.signal }))).toBe(Code.Canceled);
      });
    });

    describe("interceptors", () => {
      it("run on both sides, see and change headers and trailers", async () => {
        const events: string[] = [];
        const clientInterceptor: Interceptor = (next) => async (req) => {
          req.header.set("x-client-interceptor", "1");
          events.push(`client-request:${req.method.name}:${String(req.stream)}`);
          const res = await next(req);
          events.push(`client-response:${res.header.get("x-server-interceptor")}`);
          return res;
        };
        const serverInterceptor: Interceptor = (next) => async (req) => {
          events.push(`server-request:${req.method.name}:${req.header.get("x-client-interceptor")}`);
          const res = await next(req);
          res.header.set("x-server-interceptor", "yes");
          res.trailer.set("x-server-trailer", "t");
          return res;
        };
        const { client } = await setup({ interceptors: [serverInterceptor] }, { interceptors: [clientInterceptor] });
        let trailer: Headers | undefined;
        await client.getQuote({ symbol: "I" }, { onTrailer: (t) => (trailer = t) });
        expect(trailer?.get("x-server-trailer")).toBe("t");
        expect(events).toEqual(["client-request:GetQuote:false", "server-request:GetQuote:1", "client-response:yes"]);
        events.length = 0;
        let streamTrailer: Headers | undefined;
        for await (const _ of client.subscribe({ symbols: ["I"], count: 2 }, { onTrailer: (t) => (streamTrailer = t) })) {
          // drain
        }
        expect(events).toEqual(["client-request:Subscribe:true", "server-request:Subscribe:1", "client-response:yes"]);
        expect(streamTrailer?.get("x-server-trailer")).toBe("t");
      });
    });

    describe("limits", () => {
      it("maxMessageBytes (default 4 MiB) both directions → ResourceExhausted; the connection stays usable", async () => {
        const { client, transport } = await setup();
        const big = 4 * 1024 * 1024 + 1;
        expect(await codeOf(client.getQuote({ symbol: "BIG-REQ", payload: new Uint8Array(big) }))).toBe(Code.ResourceExhausted);
        expect((await client.getQuote({ symbol: "OK1" })).symbol).toBe("OK1");
        expect(await codeOf(client.getQuote({ symbol: "BIG-RES", responsePayloadBytes: big }))).toBe(Code.ResourceExhausted);
        expect((await client.getQuote({ symbol: "OK2" })).symbol).toBe("OK2");
        expect(transport.stats().connections).toBe(1);
      });

      it("configured limits on either side apply to the other", async () => {
        const small = await setup({ maxMessageBytes: 1000 });
        expect(await codeOf(small.client.getQuote({ symbol: "R", payload: new Uint8Array(2000) }))).toBe(Code.ResourceExhausted);
        expect((await small.client.getQuote({ symbol: "S", payload: new Uint8Array(100) })).venuePayload.byteLength).toBe(100);
        const smallClient = await setup({}, { maxMessageBytes: 1000 });
        expect(await codeOf(smallClient.client.getQuote({ symbol: "R", responsePayloadBytes: 2000 }))).toBe(Code.ResourceExhausted);
        const e = ConnectError.from(
          await (async () => {
            for await (const _ of smallClient.client.subscribe({ symbols: ["R"], count: 2, payloadBytes: 2000 })) {
              // never reached
            }
          })().catch((x: unknown) => x),
        );
        expect(e.code).toBe(Code.ResourceExhausted);
        expect((await smallClient.client.getQuote({ symbol: "S" })).symbol).toBe("S");
      });

      it("readMaxBytes and writeMaxBytes are separate: a server refusing requests over 200 KiB answers with 300 KiB", async () => {
        const { client } = await setup({ readMaxBytes: 200 * 1024 });
        const q = await client.getQuote({ symbol: "BIG", payload: new Uint8Array(1000), responsePayloadBytes: 300 * 1024 });
        expect(q.venuePayload.byteLength).toBe(300 * 1024 + 1000);
        const e = ConnectError.from(await client.getQuote({ symbol: "R", payload: new Uint8Array(201 * 1024) }).catch((x: unknown) => x));
        expect(e.code).toBe(Code.ResourceExhausted);
        expect(e.rawMessage).toContain(`readMaxBytes ${200 * 1024}`);
        // An explicit limit overrides the maxMessageBytes shorthand.
        const mixed = await setup({}, { maxMessageBytes: 1000, readMaxBytes: 5000 });
        expect((await mixed.client.getQuote({ symbol: "M", responsePayloadBytes: 4000 })).venuePayload.byteLength).toBe(4000);
        expect(await codeOf(mixed.client.getQuote({ symbol: "M", payload: new Uint8Array(1000) }))).toBe(Code.ResourceExhausted);
      });

      // Each RPC kind, each direction, the limit on the reading or on the writing side: a
      // message of exactly the limit passes, one byte more fails with ResourceExhausted
      // naming the limit, and the next call on the same transport and connection succeeds.
      const probed = new Map<string, CallSizes>();
      for (const call of SIZED_CALLS) {
        for (const { direction, option, where } of LIMIT_CASES) {
          it(`${call.kind}: a ${direction} of exactly the ${where}'s ${option} passes, one byte more → ResourceExhausted; the connection stays`, async () => {
            let sizes = probed.get(call.kind);
            if (sizes === undefined) {
              sizes = await call.run((await setup()).client, SIZE_KNOB);
              probed.set(call.kind, sizes);
            }
            const limit = direction === "request" ? sizes.request : sizes.response;
            const limits = { [option]: limit };
            const { client, transport } = await setup(where === "server" ? limits : {}, where === "client" ? limits : {});
            expect(await call.run(client, SIZE_KNOB)).toEqual(sizes);
            const e = ConnectError.from(await call.run(client, SIZE_KNOB + 1).catch((x: unknown) => x));
            expect(e.code).toBe(Code.ResourceExhausted);
            expect(e.rawMessage).toContain(`${option} ${limit}`);
            expect(await call.run(client, SIZE_KNOB)).toEqual(sizes);
            expect(transport.stats().connections).toBe(1);
          });
        }
      }
    });

    describe("multiplexing and flow control", () => {
      it("many concurrent calls share one connection", async () => {
        const { client, transport, server } = await setup();
        const calls = Array.from({ length: 300 }, (_, i) =>
          client.getQuote({ symbol: `C${i}`, payload: pattern(64 + (i % 50), i) }).then((q) => {
            expect(q.symbol).toBe(`C${i}`);
            expect(q.venuePayload).toEqual(pattern(64 + (i % 50), i));
          }),
        );
        const streams = Array.from({ length: 20 }, async (_, i) => {
          let n = 0;
          for await (const q of client.subscribe({ symbols: [`S${i}`], count: 20, payloadBytes: 100 })) {
            expect(q.symbol).toBe(`S${i}`);
            n++;
          }
          expect(n).toBe(20);
        });
        await Promise.all([...calls, ...streams]);
        expect(transport.stats().connections).toBe(1);
        expect(server.stats().callsStarted).toBe(320);
        expect(transport.stats().callsActive).toBe(0);
      });

      it("a large stream whose consumer stopped reading does not starve small calls", async () => {
        // The consumer takes one 256 KiB message and then parks: the big stream's window
        // fills (flow control holds the sender back), and 20 small calls on the same
        // connection must still complete meanwhile. No timing: a starved small call
        // would never finish (bounded by `until`, with a message saying so).
        const { server, client } = await setup();
        let received = 0;
        let resume!: () => void;
        const parked = new Promise<void>((resolve) => (resume = resolve));
        const big = (async () => {
          for await (const _ of client.subscribe({ symbols: ["BIG"], count: 64, payloadBytes: 256 * 1024 })) {
            received++;
            if (received === 1) await parked;
          }
        })();
        await until(() => received > 0);
        let small = 0;
        const smallCalls = (async () => {
          for (let i = 0; i < 20; i++) {
            await client.getQuote({ symbol: `small-${i}` });
            small++;
          }
        })();
        await until(() => small === 20, 30_000).catch(() => {
          throw new Error(`small calls starved behind a parked large stream: ${small} of 20 finished`);
        });
        await smallCalls;
        expect(received, "the parked stream did not move while the small calls ran").toBe(1);
        // Flow control held the sender: at most the 1 MiB window (+ one message) of the
        // big stream was sent while its consumer was parked.
        const bigSent = server.stats().messagesOut - 20;
        expect(bigSent).toBeLessThanOrEqual(Math.ceil((1024 * 1024) / (256 * 1024)) + 1);
        resume();
        await big;
        expect(received).toBe(64);
      });
    });

    describe("lifecycle", () => {
      it("listen() can be called several times; each URL serves", async () => {
        const { server, client } = await setup();
        const url2 = await server.listen(target.listenUrl());
        expect(server.urls).toContain(url2);
        const t2 = makeTransport({ url: url2, ...engine, ...target.transportOptions?.() });
        onTestFinished(() => t2.close());
        expect((await createClient(MarketService, t2).getQuote({ symbol: "second" })).symbol).toBe("second");
        expect((await client.getQuote({ symbol: "first" })).symbol).toBe("first");
      });

      it("graceful close: calls in flight finish, new calls get Unavailable", async () => {
        const { server, client, log } = await setup();
        const inflight = client.getQuote({ symbol: "GRACE", delayMs: 400 });
        await until(() => log.started.has("GRACE"));
        const closing = server.close(5000);
        await sleep(50);
        expect(await codeOf(client.getQuote({ symbol: "NEW" }))).toBe(Code.Unavailable);
        expect((await inflight).symbol).toBe("GRACE");
        await closing;
        expect(log.finished.has("GRACE")).toBe(true);
      });

      it("after the grace period, remaining calls abort with Unavailable", async () => {
        const { server, client, log } = await setup();
        const stuck = codeOf(client.getQuote({ symbol: "STUCK", delayMs: 30_000 }));
        await until(() => log.started.has("STUCK"));
        await server.close(100);
        expect(await stuck).toBe(Code.Unavailable);
        expect(log.abortedCode("STUCK")).toBe(Code.Unavailable);
      });

      it("no server → Unavailable; a closed transport refuses calls", async () => {
        const { server, client, transport } = await setup();
        await server.close(0);
        expect(await codeOf(client.getQuote({ symbol: "gone" }))).toBe(Code.Unavailable);
        await transport.close();
        expect(await codeOf(client.getQuote({ symbol: "closed" }))).toBe(Code.Unavailable);
      });

      it("transport.close() cancels calls in flight", async () => {
        const { client, transport, log } = await setup();
        const p = codeOf(client.getQuote({ symbol: "TCLOSE", delayMs: 10_000 }));
        await until(() => log.started.has("TCLOSE"));
        await transport.close();
        expect(await p).toBe(Code.Canceled);
        await log.waitAborted("TCLOSE");
      });

      it("stats() count calls, messages, bytes and copies", async () => {
        const { client, transport, server } = await setup();
        for (let i = 0; i < 5; i++) await client.getQuote({ symbol: "ST", payload: new Uint8Array(1000) });
        const t = transport.stats();
        const s = server.stats();
        expect(t.callsStarted).toBe(5);
        expect(t.messagesOut).toBe(5);
        expect(t.messagesIn).toBe(5);
        expect(t.bytesOut).toBeGreaterThan(5000);
        expect(s.messagesIn).toBe(5);
        expect(s.messagesOut).toBe(5);
        // Sent messages are encoded in place (no copy); the bytes field of each received one is copied out.
        expect(t.sendCopies).toBe(0);
        expect(s.sendCopies).toBe(0);
        expect(t.copies).toBe(5);
        expect(t.framesOut).toBeGreaterThanOrEqual(6);
        expect(t.framesIn).toBeGreaterThanOrEqual(6);
        expect(await transport.ping()).toBeGreaterThanOrEqual(0);
      });
    });

    describe.runIf(target.rawFrames !== false)("malformed frames", () => {
      async function rawConnect(url: string): Promise<{ channel: Channel; frames: Frame[]; closed: Promise<Error | undefined> }> {
        const raw = engineForUrl(url, { ...engine, ...target.rawEngineOptions?.() });
        onTestFinished(() => raw.close());
        const frames: Frame[] = [];
        let onClosed!: (e: Error | undefined) => void;
        const closed = new Promise<Error | undefined>((r) => (onClosed = r));
        const channel = await raw.connect(url, {
          onFrame: (f) => frames.push(parseFrame(f, true)),
          onClose: (e) => onClosed(e),
        });
        return { channel, frames, closed };
      }

      function sendRaw(channel: Channel, bytes: Uint8Array): void {
        const lease = channel.allocate(bytes.byteLength);
        lease.bytes.set(bytes);
        channel.send(lease);
      }

      function hello(): Uint8Array {
        const out = encodeHello({
          version: PROTOCOL_VERSION,
          minVersion: 1,
          maxMessageBytes: 1 << 20,
          maxHeaderBytes: 1 << 16,
          maxConcurrentStreams: 10,
          initialWindowBytes: 1 << 20,
        });
        const b = new Uint8Array(out.byteLength);
        out.write(b);
        return b;
      }

      it("close only their own connection, with a clear error", async () => {
        const { url, client } = await setup();
        expect((await client.getQuote({ symbol: "before" })).symbol).toBe("before");
        const raw = await rawConnect(url);
        sendRaw(raw.channel, hello());
        await until(() => raw.frames.length > 0);
        expect(raw.frames[0]?.kind).toBe(FrameKind.HELLO);
        sendRaw(raw.channel, new Uint8Array([99, 0, 0, 0, 1, 0, 0, 0]));
        await raw.closed;
        const goaway = raw.frames.find((f) => f.kind === FrameKind.GOAWAY);
        expect(goaway?.kind === FrameKind.GOAWAY && goaway.message).toMatch(/protocol error: malformed frame: unknown frame kind 99/);
        expect(goaway?.kind === FrameKind.GOAWAY && goaway.code).toBe(Code.Internal);
        // The other connection is unaffected.
        expect((await client.getQuote({ symbol: "after" })).symbol).toBe("after");
      });

      it("a truncated CALL_START, a frame before HELLO, and garbage bytes each close their connection", async () => {
        const { url, client } = await setup();
        const cases: Uint8Array[][] = [
          [hello(), new Uint8Array([2, 0, 0, 0, 1, 0, 0, 0, 200, 0])], // path length beyond the frame
          [new Uint8Array([4, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3])], // MESSAGE before HELLO
          [new Uint8Array([1, 2, 3])], // shorter than a header
          [hello(), new Uint8Array([4, 0, 0, 0, 7, 0, 0, 0])], // MESSAGE for a stream never opened
        ];
        for (const frames of cases) {
          const raw = await rawConnect(url);
          for (const f of frames) sendRaw(raw.channel, f);
          await raw.closed;
          const goaway = raw.frames.find((f) => f.kind === FrameKind.GOAWAY);
          expect(goaway?.kind === FrameKind.GOAWAY && goaway.message).toMatch(/protocol error/);
        }
        expect((await client.getQuote({ symbol: "still" })).symbol).toBe("still");
      });
    });
  });
}
