// The benchmark's RPCs (unary echo, server stream) on connect-rdma: createServer() in the
// server child, createUringTransport() + createClient() in the client child, both
// imported from the package itself (dist/, so `npx tsc` must have run: `npm run
// bench:connect` does).
import { createClient } from "@connectrpc/connect";
import { createServer, createUringTransport } from "connect-rdma";

import { BenchService } from "../gen/bench/v1/bench_pb.js";
import { benchServiceImpl } from "./rpc-service.js";

/** Channel URL for a listen address ("host:port" or a Unix socket path). */
function channelUrl(address) {
  return address.startsWith("/") ? `unix://${address}` : `tcp://${address}`;
}

/** The BenchService server on the driver's engine and polling mode. */
export async function startServer(driver, address) {
  const server = createServer({
    routes: (router) => router.service(BenchService, benchServiceImpl),
    engine: driver.engine,
    poll: driver.poll,
  });
  const endpoint = await server.listen(channelUrl(address));
  return { endpoint, engine: driver.engine, stats: () => server.stats(), close: () => server.close(0) };
}

/**
 * A caller: call(seq) sends one echo and checks the reply; openStream(payloadBytes)
 * starts an unbounded server stream: { messages (async iterable), cancel() }.
 */
export async function createCaller(driver, endpoint, payloadBytes) {
  const transport = createUringTransport({ url: endpoint, engine: driver.engine, poll: driver.poll });
  const client = createClient(BenchService, transport);
  const payload = new Uint8Array(payloadBytes).fill(0x61);
  await transport.ping(); // connect and handshake before the clock starts
  return {
    engine: driver.engine,
    async call(seq) {
      const reply = await client.echo({ payload, seq: BigInt(seq) });
      if (reply.payload.byteLength !== payloadBytes || reply.seq !== BigInt(seq)) throw new Error(`bad echo for seq ${seq}`);
    },
    openStream(size) {
      const controller = new AbortController();
      const messages = client.stream({ payloadBytes: size, count: 0n }, { signal: controller.signal });
      return { messages, cancel: () => controller.abort() };
    },
    stats: () => transport.stats(),
    close: () => transport.close(),
  };
}
