// The benchmark's RPCs on @grpc/grpc-js, with protobuf-es (de)serializers as the machine
// baselines used (../shared/baselines/node/server.mjs, client.mjs). The server stream
// writes the prebuilt message of lib/rpc-service.js until call.write() says the buffer
// is full, then waits for "drain" (grpc-js's back-pressure).
import grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";

import { EchoMessageSchema, StreamRequestSchema } from "../gen/bench/v1/bench_pb.js";
import { streamCount, streamItem } from "./rpc-service.js";

const serialize = (message) => {
  const bytes = toBinary(EchoMessageSchema, message);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};
const deserialize = (buffer) => fromBinary(EchoMessageSchema, buffer);
const serializeRequest = (message) => {
  const bytes = toBinary(StreamRequestSchema, message);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};
const deserializeRequest = (buffer) => fromBinary(StreamRequestSchema, buffer);

const SERVICE = {
  echo: {
    path: "/bench.v1.BenchService/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
  },
  stream: {
    path: "/bench.v1.BenchService/Stream",
    requestStream: false,
    responseStream: true,
    requestSerialize: serializeRequest,
    requestDeserialize: deserializeRequest,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
  },
};

/** Server stream: the prebuilt message (or a fresh one per item, `--fresh`), written while grpc-js accepts, until count or cancel. */
function stream(call) {
  const size = call.request.payloadBytes;
  let sent = 0;
  let left = streamCount(call.request);
  let cancelled = false;
  call.on("cancelled", () => {
    cancelled = true;
  });
  call.on("error", () => {
    cancelled = true;
  });
  const pump = () => {
    while (!cancelled && left > 0) {
      left--;
      if (!call.write(streamItem(size, sent++))) {
        if (left > 0) call.once("drain", pump);
        else call.end();
        return;
      }
    }
    if (!cancelled) call.end();
  };
  pump();
}

/** The grpc-js server. */
export async function startServer(_driver, address) {
  const server = new grpc.Server();
  server.addService(SERVICE, { echo: (call, callback) => callback(null, call.request), stream });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    endpoint: `${address.split(":")[0]}:${port}`,
    engine: "grpc-js",
    stats: () => ({}),
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}

/** A caller through a generated-style client. */
export async function createCaller(_driver, endpoint, payloadBytes) {
  const Client = grpc.makeGenericClientConstructor(SERVICE, "BenchService");
  const client = new Client(endpoint, grpc.credentials.createInsecure());
  const payload = new Uint8Array(payloadBytes).fill(0x61);
  const echo = (seq) =>
    new Promise((resolve, reject) =>
      client.echo(create(EchoMessageSchema, { payload, seq: BigInt(seq) }), (error, reply) => {
        if (error) reject(error);
        else if (reply.payload.byteLength !== payloadBytes || reply.seq !== BigInt(seq)) reject(new Error(`bad echo for seq ${seq}`));
        else resolve();
      }),
    );
  await echo(0); // connects before the clock starts
  const openStream = (size) => {
    const call = client.stream(create(StreamRequestSchema, { payloadBytes: size, count: 0n }));
    call.on("error", () => undefined); // CANCELLED after cancel(); other errors end the iteration
    return { messages: call, cancel: () => call.cancel() };
  };
  return { engine: "grpc-js", call: echo, openStream, stats: () => ({}), close: async () => client.close() };
}
