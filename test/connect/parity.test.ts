// Parity with connect-node: the same routes served through connectNodeAdapter on an
// HTTP/2 (h2c) server, called with connect-node's Connect transport, and served by our
// server over our transport, give identical results — messages, errors (code, message,
// user metadata, details), headers and trailers — for every RPC kind.

import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import type { Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, createUringTransport } from "../../src/index.js";
import type { Server, UringTransport } from "../../src/index.js";
import { MarketService, OrderAckSchema, OrderBatchSummarySchema, QuoteSchema, RejectReasonSchema, ReportingService } from "../gen/market/v1/market_pb.js";
import { ServerLog, marketRoutes, pattern } from "./market-service.js";

type Client = ReturnType<typeof createClient<typeof MarketService>>;

let h2: http2.Http2Server;
let ours: Server;
let oursTransport: UringTransport;
let theirs: Client;
let mine: Client;
let theirsTransport: Transport;
const h2Sessions = new Set<http2.ServerHttp2Session>();

beforeAll(async () => {
  h2 = http2.createServer(connectNodeAdapter({ routes: marketRoutes(new ServerLog()) }));
  h2.on("session", (s) => h2Sessions.add(s));
  await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
  const port = (h2.address() as AddressInfo).port;
  theirsTransport = createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "2" });
  theirs = createClient(MarketService, theirsTransport);
  ours = createServer({ routes: marketRoutes(new ServerLog()) });
  const url = await ours.listen(`memory://parity-${process.pid}`);
  oursTransport = createUringTransport({ url });
  mine = createClient(MarketService, oursTransport);
});

afterAll(async () => {
  await oursTransport?.close();
  await ours?.close(0);
  // connect-node's client keeps its HTTP/2 session open: end it from the server side.
  for (const s of h2Sessions) s.destroy();
  await new Promise<void>((resolve) => h2?.close(() => resolve()));
});

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

async function both(scenario: (c: Client) => ReturnType<typeof outcome>): Promise<Outcome> {
  const [a, b] = await Promise.all([scenario(theirs), scenario(mine)]);
  expect(b).toEqual(a);
  return a;
}

async function* orders(n: number, failAt = -1) {
  for (let i = 1; i <= n; i++) {
    yield { clientOrderId: `p${i}`, symbol: i === failAt ? "FAIL:8" : "IBM", quantity: BigInt(i), signature: pattern(16, i), legs: [pattern(4, i)] };
  }
}

describe("parity with connect-node over HTTP/2", () => {
  it("unary: messages with bytes, headers, trailers", async () => {
    const o = await both((c) => outcome(QuoteSchema, (opts) => c.getQuote({ symbol: "HDR", payload: pattern(300, 3), responsePayloadBytes: 100 }, opts)));
    expect(o.messages).toHaveLength(1);
    expect(o.header).toContainEqual(["x-trace-echo", "parity-1"]);
    expect(o.trailer).toContainEqual(["x-blob-length", "5"]);
  });

  it("unary errors: code, Unicode message, metadata, details; Internal; Unimplemented", async () => {
    const e = await both((c) => outcome(QuoteSchema, (opts) => c.getQuote({ symbol: "FAIL:9" }, opts)));
    expect(e.error?.code).toBe(9);
    expect(e.error?.details).toHaveLength(1);
    expect(e.error?.metadata).toContainEqual(["x-error-id", "e-42"]);
    expect((await both((c) => outcome(QuoteSchema, (opts) => c.getQuote({ symbol: "THROW" }, opts)))).error?.message).toBe("internal error");
    await both((c) => outcome(OrderBatchSummarySchema, (opts) => c.cancelAll({ symbol: "X" }, opts)));
    // Unknown service: same code (the HTTP adapter words the message as "HTTP 404").
    const [a, b] = await Promise.all(
      [theirsTransport, oursTransport].map((t) =>
        createClient(ReportingService, t)
          .dailyReport({})
          .catch((x: unknown) => ConnectError.from(x).code),
      ),
    );
    expect(b).toBe(a);
  });

  it("server streaming: all messages, trailers; a mid-stream error", async () => {
    const ok = await both((c) => outcome(QuoteSchema, (opts) => Promise.resolve(c.subscribe({ symbols: ["A", "B"], count: 25, payloadBytes: 64 }, opts))));
    expect(ok.messages).toHaveLength(25);
    expect(ok.trailer).toContainEqual(["x-count", "25"]);
    const bad = await both((c) => outcome(QuoteSchema, (opts) => Promise.resolve(c.subscribe({ symbols: ["A"], count: 9, failAfter: 4 }, opts))));
    expect(bad.messages).toHaveLength(4);
    expect(bad.error?.code).toBe(10);
  });

  it("client streaming and bidi, with and without errors", async () => {
    const sum = await both((c) => outcome(OrderBatchSummarySchema, (opts) => c.submitOrders(orders(30), opts)));
    expect(sum.trailer).toContainEqual(["x-orders", "30"]);
    await both((c) => outcome(OrderBatchSummarySchema, (opts) => c.submitOrders(orders(10, 5), opts)));
    const acks = await both((c) => outcome(OrderAckSchema, (opts) => Promise.resolve(c.trade(orders(12), opts))));
    expect(acks.messages).toHaveLength(12);
    const failed = await both((c) => outcome(OrderAckSchema, (opts) => Promise.resolve(c.trade(orders(12, 6), opts))));
    expect(failed.error?.code).toBe(8);
  });
});
