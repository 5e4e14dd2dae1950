// One call per RPC kind whose largest request and largest response message both grow by
// exactly one byte per step of a size knob `n`: what the message-limit tests need to put a
// message exactly at a limit, then one byte over it. Sizes are measured, not assumed: the
// requests as encoded here, the responses as received (re-encoded; proto3 encodes
// canonically, so that is the size that crossed the wire).

import { create, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { GetQuoteRequestSchema, MarketService, OrderAckSchema, OrderBatchSummarySchema, OrderSchema, QuoteSchema, SubscribeRequestSchema } from "../gen/market/v1/market_pb.js";

/** The largest message each way of one call. */
export interface CallSizes {
  request: number;
  response: number;
}

export interface SizedCall {
  kind: "unary" | "server streaming" | "client streaming" | "bidi";
  /** Runs the call with knob `n` (keep n away from varint boundaries: 1000 is fine). */
  run(client: Client<typeof MarketService>, n: number, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<CallSizes>;
}

/** A size knob far from varint length boundaries. */
export const SIZE_KNOB = 1000;

function sizeOf<D extends DescMessage>(schema: D, init: MessageInitShape<D>): number {
  return toBinary(schema, create(schema, init)).byteLength;
}

function largest<D extends DescMessage>(schema: D, messages: MessageInitShape<D>[]): number {
  return Math.max(0, ...messages.map((m) => sizeOf(schema, m)));
}

async function* each<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

/** Two orders; the second one carries the knob (so the sized message comes mid-stream). */
function orders(n: number, field: "clientOrderId" | "signature"): MessageInitShape<typeof OrderSchema>[] {
  const sized = field === "clientOrderId" ? { clientOrderId: "x".repeat(n) } : { clientOrderId: "b", signature: new Uint8Array(n).fill(5) };
  return [{ clientOrderId: "a", symbol: "IBM", quantity: 1n }, { symbol: "IBM", quantity: 2n, ...sized }];
}

export const SIZED_CALLS: SizedCall[] = [
  {
    kind: "unary",
    async run(client, n, options) {
      const req = { symbol: "LIM", payload: new Uint8Array(n).fill(3) };
      const res = await client.getQuote(req, options);
      return { request: sizeOf(GetQuoteRequestSchema, req), response: sizeOf(QuoteSchema, res) };
    },
  },
  {
    kind: "server streaming",
    async run(client, n, options) {
      const req = { symbols: ["x".repeat(n)], count: 2 };
      const got = [];
      for await (const q of client.subscribe(req, options)) got.push(q);
      return { request: sizeOf(SubscribeRequestSchema, req), response: largest(QuoteSchema, got) };
    },
  },
  {
    kind: "client streaming",
    async run(client, n, options) {
      const reqs = orders(n, "clientOrderId");
      const res = await client.submitOrders(each(reqs), options);
      return { request: largest(OrderSchema, reqs), response: sizeOf(OrderBatchSummarySchema, res) };
    },
  },
  {
    kind: "bidi",
    async run(client, n, options) {
      const reqs = orders(n, "signature");
      const got = [];
      for await (const a of client.trade(each(reqs), options)) got.push(a);
      return { request: largest(OrderSchema, reqs), response: largest(OrderAckSchema, got) };
    },
  },
];

/** Where a limit is set for a message of one direction: on the side that reads it or the side that writes it. */
export interface LimitCase {
  direction: "request" | "response";
  option: "readMaxBytes" | "writeMaxBytes";
  where: "server" | "client";
}

export const LIMIT_CASES: LimitCase[] = [
  { direction: "request", option: "readMaxBytes", where: "server" },
  { direction: "request", option: "writeMaxBytes", where: "client" },
  { direction: "response", option: "readMaxBytes", where: "client" },
  { direction: "response", option: "writeMaxBytes", where: "server" },
];
