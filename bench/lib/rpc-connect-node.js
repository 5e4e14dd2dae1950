// The benchmark's RPCs (unary echo, server stream) on connect-node over HTTP/2 (h2c), as
// the machine baselines measured the echo (../shared/baselines/node/server.mjs,
// client.mjs): connectNodeAdapter on
// node:http2 (serves the Connect and gRPC protocols on one port), clients from
// createConnectTransport / createGrpcTransport with binary encoding.
import http2 from "node:http2";

import { createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";

import { BenchService } from "../gen/bench/v1/bench_pb.js";
import { benchServiceImpl } from "./rpc-service.js";

/** The h2c server. */
export async function startServer(_driver, address) {
  const [host, port] = address.split(":");
  const server = http2.createServer({}, connectNodeAdapter({ routes: (router) => router.service(BenchService, benchServiceImpl) }));
  const sessions = new Set();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(port), host, resolve);
  });
  return {
    endpoint: `http://${host}:${server.address().port}`,
    engine: "node:http2",
    stats: () => ({}),
    close: () =>
      new Promise((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A caller over the driver's protocol (interface: rpc-ours.js createCaller). */
export async function createCaller(driver, endpoint, payloadBytes) {
  const options = { baseUrl: endpoint, httpVersion: "2", useBinaryFormat: true };
  const transport = driver.protocol === "grpc" ? createGrpcTransport(options) : createConnectTransport(options);
  const client = createClient(BenchService, transport);
  const payload = new Uint8Array(payloadBytes).fill(0x61);
  await client.echo({ payload, seq: 0n }); // opens the HTTP/2 session before the clock starts
  return {
    engine: "node:http2",
    async call(seq) {
      const reply = await client.echo({ payload, seq: BigInt(seq) });
      if (reply.payload.byteLength !== payloadBytes || reply.seq !== BigInt(seq)) throw new Error(`bad echo for seq ${seq}`);
    },
    openStream(size) {
      const controller = new AbortController();
      const messages = client.stream({ payloadBytes: size, count: 0n }, { signal: controller.signal });
      return { messages, cancel: () => controller.abort() };
    },
    stats: () => ({}),
    close: async () => undefined,
  };
}
