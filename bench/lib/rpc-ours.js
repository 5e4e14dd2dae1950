// The benchmark's RPCs (unary echo, server stream) on connect-rdma: createServer() in the
// server child, createUringTransport() (or createRdmaTransport(), bound to the second
// soft-RoCE device) + createClient() in the client child, both imported from the package
// itself (dist/, so `npx tsc` must have run: `npm run bench:connect` does).
import { createClient } from "@connectrpc/connect";
import { RdmaEngine, UringEngine, createRdmaTransport, createServer, createUringTransport } from "connect-rdma";

import { BenchService } from "../gen/bench/v1/bench_pb.js";
import { benchServiceImpl } from "./rpc-service.js";
import { SOFTROCE_IP1 } from "./softroce-addresses.js";

/** Channel URL for a listen address ("host:port" or a Unix socket path). */
function channelUrl(driver, address) {
  if (driver.transport === "rdma") return `rdma://${address}`;
  if (driver.transport === "shm") return `shm://${address}`;
  return address.startsWith("/") ? `unix://${address}` : `tcp://${address}`;
}

// BENCH_SPIN_MICROS (bench/rdma-guest.js --spin-us): spin drivers get engines of their
// own with that busy-poll budget instead of the default 50 µs — a round trip in the TCG
// guest takes longer than that, and a side that stops spinning before the reply pays a
// wakeup. Unset: the transport or server creates its engine as an application would.
const spinMicros = Number(process.env.BENCH_SPIN_MICROS) || undefined;

// "large-messages" tuning (rpc-drivers.js): on io_uring, receive slots of 256 KiB on both
// sides, so a 64 KiB message arrives inside one slot; 64 of them keep the region at 16 +
// 64 MiB. On shm:// the default ring already holds it whole. Either way the client decodes
// with bytes: "alias".
const LARGE_MESSAGE_REGION = { slotSize: 256 * 1024, recvSlots: 64, leaseBytes: 64 * 1024 * 1024 };

function ownEngine(driver, role) {
  if (driver.tuning === "large-messages" && driver.engine === "uring") return new UringEngine({ poll: driver.poll, region: LARGE_MESSAGE_REGION });
  if (driver.poll !== "spin" || spinMicros === undefined) return undefined;
  if (driver.engine === "rdma") return new RdmaEngine({ poll: "spin", spinMicros, ...(role === "client" ? { localAddress: SOFTROCE_IP1 } : {}) });
  return new UringEngine({ poll: "spin", spinMicros });
}

function transportFor(driver, endpoint, engine) {
  if (driver.transport === "rdma") {
    return createRdmaTransport({ url: endpoint, poll: driver.poll, localAddress: SOFTROCE_IP1, ...(engine ? { engine } : {}) });
  }
  // Large-message tuning: received bytes fields stay views into the slot (no copy).
  const bytes = driver.tuning === "large-messages" ? "alias" : undefined;
  // shm:// URLs get the shm engine from their scheme ("engine" picks io_uring or node:net only).
  const choice = engine ?? (driver.engine === "shm" ? "auto" : driver.engine);
  return createUringTransport({ url: endpoint, engine: choice, poll: driver.poll, ...(bytes ? { bytes } : {}) });
}

/** The BenchService server on the driver's engine and polling mode. */
export async function startServer(driver, address) {
  const own = ownEngine(driver, "server");
  const server = createServer({
    routes: (router) => router.service(BenchService, benchServiceImpl),
    engine: own ?? (driver.engine === "rdma" || driver.engine === "shm" ? "auto" : driver.engine),
    poll: driver.poll,
    // rdma:// benchmarks listen on the soft-RoCE devices' private addresses, on purpose.
    allowUnprotected: true,
  });
  const endpoint = await server.listen(channelUrl(driver, address));
  const close = async () => {
    await server.close(0);
    await own?.close();
  };
  return { endpoint, engine: driver.engine, stats: () => server.stats(), close };
}

/**
 * A caller: call(seq) sends one echo and checks the reply; openStream(payloadBytes)
 * starts an unbounded server stream: { messages (async iterable), cancel() }.
 */
export async function createCaller(driver, endpoint, payloadBytes) {
  const own = ownEngine(driver, "client");
  const transport = transportFor(driver, endpoint, own);
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
    close: async () => {
      await transport.close();
      await own?.close();
    },
  };
}
