// The benchmark service's implementation, shared by the servers that take a connect-es
// service implementation (ours: createServer; connect-node: connectNodeAdapter). Echo
// returns its request; Stream yields one prebuilt message per payload size again and
// again — the benchmark measures the transport, not message construction — for as long
// as the stream takes them (an async generator is pulled only when the server is ready
// for the next message, so back-pressure is the server's own) or until `count`.
import { create } from "@bufbuild/protobuf";

import { EchoMessageSchema } from "../gen/bench/v1/bench_pb.js";

const prebuilt = new Map();

/** The message every stream of `payloadBytes` sends (built once per size). */
export function streamMessage(payloadBytes) {
  let message = prebuilt.get(payloadBytes);
  if (message === undefined) {
    message = create(EchoMessageSchema, { payload: new Uint8Array(payloadBytes).fill(0x62), seq: 0n });
    prebuilt.set(payloadBytes, message);
  }
  return message;
}

/**
 * Under `--fresh` (bench/connect.js sets BENCH_STREAM_FRESH=1 for the server children):
 * a new message with a new payload array per item, as a handler that builds what it
 * sends does; else the prebuilt one.
 */
export const freshStreamMessages = process.env.BENCH_STREAM_FRESH === "1";

/** Item `i` of a stream of `payloadBytes` messages. */
export function streamItem(payloadBytes, i) {
  if (!freshStreamMessages) return streamMessage(payloadBytes);
  return create(EchoMessageSchema, { payload: new Uint8Array(payloadBytes).fill(0x62), seq: BigInt(i) });
}

/** Messages a StreamRequest asks for: its count, or unbounded for 0. */
export function streamCount(request) {
  return request.count === 0n ? Infinity : Number(request.count);
}

/** The BenchService implementation (connect-es ServiceImpl shape). */
export const benchServiceImpl = {
  echo: (request) => request,
  async *stream(request, context) {
    const size = request.payloadBytes;
    const count = streamCount(request);
    const signal = context.signal;
    for (let i = 0; i < count && !signal.aborted; i++) yield streamItem(size, i);
  },
};
