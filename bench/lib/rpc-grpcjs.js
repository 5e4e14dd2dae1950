// The benchmark's echo RPC on @grpc/grpc-js, with protobuf-es (de)serializers as the
// machine baselines used (../shared/baselines/node/server.mjs, client.mjs).
import grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";

import { EchoMessageSchema } from "../gen/bench/v1/bench_pb.js";

const serialize = (message) => {
  const bytes = toBinary(EchoMessageSchema, message);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};
const deserialize = (buffer) => fromBinary(EchoMessageSchema, buffer);

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
};

/** The grpc-js server. */
export async function startServer(_driver, address) {
  const server = new grpc.Server();
  server.addService(SERVICE, { echo: (call, callback) => callback(null, call.request) });
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
  return { engine: "grpc-js", call: echo, stats: () => ({}), close: async () => client.close() };
}
