// Parity with connect-node: the same routes served through connectNodeAdapter on an
// HTTP/2 (h2c) server, called with connect-node's Connect transport, and served by our
// server over our transport (memory:// and io_uring tcp), give identical results —
// messages, errors (code, message, user metadata, details), headers and trailers — for
// every RPC kind; and the same outcomes at the edges: deadlines and cancellation (the
// client's error; the handler's signal aborts), and readMaxBytes/writeMaxBytes on either
// side, both ways (a message exactly at a limit passes, one byte more fails, the next call
// succeeds).

import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it, onTestFinished } from "vitest";
import { createServer, createUringTransport } from "../../src/index.js";
import type { MessageLimitOptions, UringTransportOptions } from "../../src/index.js";
import { MarketService, OrderAckSchema, OrderBatchSummarySchema, QuoteSchema, RejectReasonSchema, ReportingService } from "../gen/market/v1/market_pb.js";
import { listenUrl, uringUnavailable } from "../channel/engines.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { until } from "../hostile/support.js";
import { ServerLog, marketRoutes, pattern } from "./market-service.js";
import { LIMIT_CASES, SIZED_CALLS, SIZE_KNOB } from "./sized-calls.js";
import type { CallSizes } from "./sized-calls.js";
import { pushable } from "./transport-suite.js";

type Client = ReturnType<typeof createClient<typeof MarketService>>;

/** Where our side runs. */
interface Target {
  name: string;
  url(): string;
  transport: Partial<UringTransportOptions>;
  unavailable?: () => string | undefined;
}

let names = 0;
const TARGETS: Target[] = [
  { name: "memory://", url: () => `memory://parity-${process.pid}-${++names}`, transport: {} },
  { name: "io_uring tcp://", url: () => listenUrl("tcp"), transport: { engine: "uring" }, unavailable: uringUnavailable },
];

/** Limits for both implementations alike. */
interface PairLimits {
  server?: Pick<MessageLimitOptions, "readMaxBytes" | "writeMaxBytes">;
  client?: Pick<MessageLimitOptions, "readMaxBytes" | "writeMaxBytes">;
}

/** connect-node and us, serving the same routes with the same limits. */
interface Pair {
  theirs: Client;
  mine: Client;
  theirsTransport: Transport;
  oursTransport: Transport;
  /** What each side's handlers saw. */
  theirsLog: ServerLog;
  mineLog: ServerLog;
  close(): Promise<void>;
}

async function createPair(target: Target, limits: PairLimits = {}): Promise<Pair> {
  const theirsLog = new ServerLog();
  const mineLog = new ServerLog();
  const h2 = http2.createServer(connectNodeAdapter({ routes: marketRoutes(theirsLog), ...limits.server }));
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (s) => h2Sessions.add(s));
  await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
  const port = (h2.address() as AddressInfo).port;
  const theirsTransport = createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "2", ...limits.client });
  const ours = createServer({ routes: marketRoutes(mineLog), ...target.transport, ...limits.server });
  const url = await ours.listen(target.url());
  const oursTransport = createUringTransport({ url, ...target.transport, ...limits.client });
  return {
    theirs: createClient(MarketService, theirsTransport),
    mine: createClient(MarketService, oursTransport),
    theirsTransport,
    oursTransport,
    theirsLog,
    mineLog,
    async close() {
      await oursTransport.close();
      await ours.close(0);
      // connect-node's client keeps its HTTP/2 session open: end it from the server side.
      for (const s of h2Sessions) s.destroy();
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    },
  };
}

/** User-visible metadata only (x-*): protocol headers differ by design (HTTP vs frames). */
function userMetadata(h: Headers | undefined): [string, string][] {
  return h === undefined ? [] : [...h.entries()].filter(([k]) => k.startsWith("x-"));
}

interface Outcome {
  messages: string[];
  header: [string, string][];
  trailer: [string, string][];
  error?: { code: number; message: string; metadata: [string, string][]; details: unknown[] };
}

function wire<D extends DescMessage>(schema: D, m: MessageShape<D>): string {
  return Buffer.from(toBinary(schema, m)).toString("hex");
}

async function outcome<D extends DescMessage>(
  schema: D,
  run: (opts: { onHeader(h: Headers): void; onTrailer(t: Headers): void; headers: HeadersInit }) => Promise<MessageShape<D> | AsyncIterable<MessageShape<D>>>,
): Promise<Outcome> {
  const o: Outcome = { messages: [], header: [], trailer: [] };
  try {
    const r = await run({
      headers: { "x-trace": "parity-1", "x-blob-bin": "AAEC+v8" },
      onHeader: (h) => (o.header = userMetadata(h)),
      onTrailer: (t) => (o.trailer = userMetadata(t)),
    });
    if (Symbol.asyncIterator in (r as object)) {
      for await (const m of r as AsyncIterable<MessageShape<D>>) o.messages.push(wire(schema, m));
    } else {
      o.messages.push(wire(schema, r as MessageShape<D>));
    }
  } catch (e) {
    const err = ConnectError.from(e);
    o.error = {
      code: err.code,
      message: err.rawMessage,
      metadata: userMetadata(err.metadata),
      details: err.findDetails(RejectReasonSchema).map((d) => wire(RejectReasonSchema, d)),
    };
  }
  return o;
}

/** Runs `scenario` against connect-node and against us; the outcomes must be equal. */
async function both<T>(pair: Pair, scenario: (c: Client, log: ServerLog) => Promise<T>): Promise<T> {
  const [a, b] = await Promise.all([scenario(pair.theirs, pair.theirsLog), scenario(pair.mine, pair.mineLog)]);
  expect(b).toEqual(a);
  return a;
}

async function* orders(n: number, failAt = -1) {
  for (let i = 1; i <= n; i++) {
    yield { clientOrderId: `p${i}`, symbol: i === failAt ? "FAIL:8" : "IBM", quantity: BigInt(i), signature: pattern(16, i), legs: [pattern(4, i)] };
  }
}

/** A call that stays in its handler until its deadline or cancellation. */
interface Parked {
  kind: string;
  /** Starts the call; its handler records itself under `key` in the ServerLog. */
  run(c: Client, key: string, options: { timeoutMs?: number; signal?: AbortSignal }): Promise<unknown>;
}

async function drain(messages: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of messages) {
    // keep reading
  }
}

function openOrders(key: string): AsyncIterable<{ clientOrderId: string; symbol: string; quantity: bigint }> {
  const requests = pushable<{ clientOrderId: string; symbol: string; quantity: bigint }>();
  requests.push({ clientOrderId: key, symbol: "IBM", quantity: 1n });
  return requests; // never ended
}

const PARKED: Parked[] = [
  { kind: "unary", run: (c, key, o) => c.getQuote({ symbol: key, delayMs: 10_000 }, o) },
  { kind: "server streaming", run: (c, key, o) => drain(c.subscribe({ symbols: [key], count: 0, intervalMs: 20 }, o)) },
  { kind: "client streaming", run: (c, key, o) => c.submitOrders(openOrders(key), o) },
  { kind: "bidi", run: (c, key, o) => drain(c.trade(openOrders(key), o)) },
];

/** The error a call failed with: code name and message. */
async function failureOf(call: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await call;
  } catch (e) {
    const error = ConnectError.from(e);
    return { code: Code[error.code], message: error.rawMessage };
  }
  throw new Error("expected the call to fail");
}

/** The code the handler's signal aborted with. */
async function abortedCode(log: ServerLog, key: string): Promise<string> {
  return Code[ConnectError.from(await log.waitAborted(key)).code];
}

for (const target of TARGETS) {
  gatedDescribe(`parity with connect-node over HTTP/2: ours over ${target.name}`, target.unavailable?.(), () => {
    let pair: Pair;
    beforeAll(async () => {
      pair = await createPair(target);
    });
    afterAll(async () => {
      await pair?.close();
    });

    it("unary: messages with bytes, headers, trailers", async () => {
      const o = await both(pair, (c) => outcome(QuoteSchema, (opts) => c.getQuote({ symbol: "HDR", payload: pattern(300, 3), responsePayloadBytes: 100 }, opts)));
      expect(o.messages).toHaveLength(1);
      expect(o.header).toContainEqual(["x-trace-echo", "parity-1"]);
      expect(o.trailer).toContainEqual(["x-blob-length", "5"]);
    });

    it("unary errors: code, Unicode message, metadata, details; Internal; Unimplemented", async () => {
      const e = await both(pair, (c) => outcome(QuoteSchema, (opts) => c.getQuote({ symbol: "FAIL:9" }, opts)));
      expect(e.error?.code).toBe(9);
      expect(e.error?.details).toHaveLength(1);
      expect(e.error?.metadata).toContainEqual(["x-error-id", "e-42"]);
      expect((await both(pair, (c) => outcome(QuoteSchema, (opts) => c.getQuote({ symbol: "THROW" }, opts)))).error?.message).toBe("internal error");
      await both(pair, (c) => outcome(OrderBatchSummarySchema, (opts) => c.cancelAll({ symbol: "X" }, opts)));
      // Unknown service: same code (the HTTP adapter words the message as "HTTP 404").
      const [a, b] = await Promise.all(
        [pair.theirsTransport, pair.oursTransport].map((t) =>
          createClient(ReportingService, t)
            .dailyReport({})
            .catch((x: unknown) => ConnectError.from(x).code),
        ),
      );
      expect(b).toBe(a);
    });

    it("server streaming: all messages, trailers; a mid-stream error", async () => {
      const ok = await both(pair, (c) => outcome(QuoteSchema, (opts) => Promise.resolve(c.subscribe({ symbols: ["A", "B"], count: 25, payloadBytes: 64 }, opts))));
      expect(ok.messages).toHaveLength(25);
      expect(ok.trailer).toContainEqual(["x-count", "25"]);
      const bad = await both(pair, (c) => outcome(QuoteSchema, (opts) => Promise.resolve(c.subscribe({ symbols: ["A"], count: 9, failAfter: 4 }, opts))));
      expect(bad.messages).toHaveLength(4);
      expect(bad.error?.code).toBe(10);
    });

    it("client streaming and bidi, with and without errors", async () => {
      const sum = await both(pair, (c) => outcome(OrderBatchSummarySchema, (opts) => c.submitOrders(orders(30), opts)));
      expect(sum.trailer).toContainEqual(["x-orders", "30"]);
      await both(pair, (c) => outcome(OrderBatchSummarySchema, (opts) => c.submitOrders(orders(10, 5), opts)));
      const acks = await both(pair, (c) => outcome(OrderAckSchema, (opts) => Promise.resolve(c.trade(orders(12), opts))));
      expect(acks.messages).toHaveLength(12);
      const failed = await both(pair, (c) => outcome(OrderAckSchema, (opts) => Promise.resolve(c.trade(orders(12, 6), opts))));
      expect(failed.error?.code).toBe(8);
    });

    // Deadlines and cancellation: the client's error (code and message) is the same, and
    // the handler's signal aborts (with the same reason on cancellation); calls are parked
    // in their handlers first.
    for (const call of PARKED) {
      it(`${call.kind}: a deadline → DeadlineExceeded on the client, the same in the handler`, async () => {
        const key = `deadline-${call.kind}`;
        const seen = await both(pair, async (c, log) => {
          const error = await failureOf(call.run(c, key, { timeoutMs: 200 }));
          await log.waitAborted(key);
          return { error, handlerAborted: log.aborted.has(key) };
        });
        expect(seen.error.code).toBe("DeadlineExceeded");
        // The reason differs on purpose: connect-node's handler sees whichever comes first,
        // its own timer (DeadlineExceeded) or the client's reset stream (Canceled, or
        // Internal); ours always sees DeadlineExceeded (the client's CANCEL carries the code).
        expect(Code[pair.mineLog.abortedCode(key) ?? Code.Unknown]).toBe("DeadlineExceeded");
      });

      it(`${call.kind}: cancellation → Canceled on the client, the same in the handler`, async () => {
        const key = `cancel-${call.kind}`;
        const seen = await both(pair, async (c, log) => {
          const controller = new AbortController();
          const done = failureOf(call.run(c, key, { signal: controller.signal }));
          await until(() => log.started.has(key), 5000, `handler ${key} to start`);
          controller.abort();
          return { error: await done, handler: await abortedCode(log, key) };
        });
        expect(seen.error.code).toBe("Canceled");
      });
    }

    // readMaxBytes / writeMaxBytes on either side, both ways: exactly at the limit passes,
    // one byte more fails, and the next call on the same transport succeeds.
    const probed = new Map<string, CallSizes>();
    for (const call of SIZED_CALLS) {
      for (const { direction, option, where } of LIMIT_CASES) {
        it(`${call.kind}: a ${direction} at the ${where}'s ${option}, then one byte over`, async () => {
          let sizes = probed.get(call.kind);
          if (sizes === undefined) {
            sizes = await both(pair, (c) => call.run(c, SIZE_KNOB));
            probed.set(call.kind, sizes);
          }
          const limit = direction === "request" ? sizes.request : sizes.response;
          const limited = await createPair(target, { [where]: { [option]: limit } });
          onTestFinished(() => limited.close());
          const seen = await both(limited, async (c) => ({
            atLimit: await call.run(c, SIZE_KNOB),
            overLimit: await failureOf(call.run(c, SIZE_KNOB + 1)).then((f) => f.code),
            after: await call.run(c, SIZE_KNOB),
          }));
          expect(seen).toEqual({ atLimit: sizes, overLimit: "ResourceExhausted", after: sizes });
        });
      }
    }
  });
}
