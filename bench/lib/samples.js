// The messages bench/encode.js and bench/decode.js measure, shared so both speak of the
// same bytes: the benchmark's echo message with a payload of n bytes, a market.v1.Quote
// (many small fields) and a market.v1.Order (nested Quote, map, oneof, repeated bytes).

import { create } from "@bufbuild/protobuf";
import { EchoMessageSchema } from "../gen/bench/v1/bench_pb.js";
import { OrderSchema, QuoteSchema, Side } from "../../examples/gen/market/v1/market_pb.js";

export { EchoMessageSchema, OrderSchema, QuoteSchema };

/** bench.v1.EchoMessage with an n-byte payload. */
export const sampleEcho = (n) => create(EchoMessageSchema, { payload: new Uint8Array(n).fill(0x62), seq: 1_234_567n });

/** market.v1.Quote: a string, 2 doubles, 4 int64, 16 B of bytes. */
export const sampleQuote = () =>
  create(QuoteSchema, {
    symbol: "ACME",
    bid: 101.25,
    ask: 101.5,
    bidSize: 300n,
    askSize: 500n,
    timeNs: 1_733_500_000_123_456_789n,
    sequence: 42n,
    venuePayload: new Uint8Array(16).fill(7),
  });

/** market.v1.Order: strings, a Quote inside, a 2-entry map, a oneof, 3 repeated bytes. */
export const sampleOrder = () =>
  create(OrderSchema, {
    clientOrderId: "c-000123",
    symbol: "ACME",
    side: Side.BUY,
    price: 101.3,
    quantity: 100n,
    signature: new Uint8Array(32).fill(1),
    tags: { desk: new Uint8Array([1, 2]), strategy: new Uint8Array([3]) },
    timeInForce: { case: "goodTillNs", value: 1_733_500_000_000_000_000n },
    legs: [new Uint8Array(8), new Uint8Array(8), new Uint8Array(8)],
    reference: sampleQuote(),
  });
