// The drivers of the Connect benchmark (bench/connect.js): one unary echo RPC
// (bench.v1.BenchService/Echo, bench/gen) served and called by each RPC stack, plus the
// raw channel echo of the echo benchmark as the floor our Connect layer is measured
// against. A driver names its kind; the kind's module (rpc-ours.js, rpc-connect-node.js,
// rpc-grpcjs.js) builds its server and its caller.
import { tmpdir } from "node:os";
import { join } from "node:path";

import { SOFTROCE_IP0 } from "./softroce-addresses.js";

/**
 * @typedef {object} RpcDriver
 * @property {string} id            stable key (JSON, --drivers, ratios)
 * @property {string} label         row name
 * @property {"ours" | "connect-node" | "grpc-js" | "channel-echo" | "channel-stream"} kind
 * @property {"tcp" | "unix" | "rdma" | "shm"} transport
 * @property {"uring" | "net" | "rdma" | "shm"} [engine]  ours: which channel engine
 * @property {boolean} [guestOnly]             needs the soft-RoCE guest (bench/rdma-guest.js); not run by default
 * @property {"event" | "spin"} [poll]          ours: completion polling
 * @property {"connect" | "grpc"} [protocol]   connect-node: which protocol over HTTP/2
 * @property {string} [echoDriver]             channel-echo: the echo benchmark's driver id
 * @property {"large-messages"} [tuning]       ours: engines and client set up for large messages (rpc-ours.js)
 * @property {"stream"} [only]                 run by default only for this workload kind
 */

/** @type {RpcDriver[]} */
export const RPC_DRIVERS = [
  { id: "ours-uring-tcp-event", label: "ours io_uring TCP, event", kind: "ours", transport: "tcp", engine: "uring", poll: "event" },
  { id: "ours-uring-tcp-spin", label: "ours io_uring TCP, spin", kind: "ours", transport: "tcp", engine: "uring", poll: "spin" },
  { id: "ours-uring-unix-event", label: "ours io_uring Unix, event", kind: "ours", transport: "unix", engine: "uring", poll: "event" },
  // The same, set up as docs/TUNING.md advises for large messages: 256 KiB receive slots
  // (a 64 KiB message lands inside one slot, no reassembly) and the client decoding with
  // bytes: "alias" (no copy out of the slot). A default-stream-workload row only.
  {
    id: "ours-uring-unix-event-large",
    label: "ours io_uring Unix, event, large-message tuning",
    kind: "ours",
    transport: "unix",
    engine: "uring",
    poll: "event",
    tuning: "large-messages",
    only: "stream",
  },
  { id: "ours-shm-event", label: "ours shared memory (shm://), event", kind: "ours", transport: "shm", engine: "shm", poll: "event" },
  { id: "ours-shm-spin", label: "ours shared memory (shm://), spin", kind: "ours", transport: "shm", engine: "shm", poll: "spin" },
  // The client decoding with bytes: "alias": a received bytes field stays a view into the
  // ring (its 8 MiB default holds a 64 KiB message whole). A stream-workload row only.
  { id: "ours-shm-event-large", label: "ours shared memory (shm://), event, bytes alias", kind: "ours", transport: "shm", engine: "shm", poll: "event", tuning: "large-messages", only: "stream" },
  { id: "ours-shm-spin-large", label: "ours shared memory (shm://), spin, bytes alias", kind: "ours", transport: "shm", engine: "shm", poll: "spin", tuning: "large-messages", only: "stream" },
  { id: "ours-net-tcp", label: "ours net engine, TCP", kind: "ours", transport: "tcp", engine: "net", poll: "event" },
  // The stream workload's floor: the same flow on the raw channel (rpc-channel-stream.js).
  { id: "channel-stream-uring-tcp", label: "raw channel stream, io_uring TCP, event (floor)", kind: "channel-stream", transport: "tcp", engine: "uring", poll: "event", only: "stream" },
  { id: "connect-node-h2", label: "connect-node HTTP/2, Connect protocol", kind: "connect-node", transport: "tcp", protocol: "connect" },
  { id: "connect-node-h2-grpc", label: "connect-node HTTP/2, gRPC protocol", kind: "connect-node", transport: "tcp", protocol: "grpc" },
  { id: "grpc-js", label: "@grpc/grpc-js HTTP/2", kind: "grpc-js", transport: "tcp" },
  { id: "channel-echo-uring-tcp", label: "raw channel echo, io_uring TCP, event", kind: "channel-echo", transport: "tcp", echoDriver: "uring-tcp-event" },
  { id: "channel-echo-uring-tcp-spin", label: "raw channel echo, io_uring TCP, spin", kind: "channel-echo", transport: "tcp", echoDriver: "uring-tcp-spin" },
  // RDMA: only inside the soft-RoCE guest (bench/rdma-guest.js), server on rxe0, client on rxe1.
  { id: "ours-rdma-event", label: "ours RDMA (rxe), event", kind: "ours", transport: "rdma", engine: "rdma", poll: "event", guestOnly: true },
  { id: "ours-rdma-spin", label: "ours RDMA (rxe), spin", kind: "ours", transport: "rdma", engine: "rdma", poll: "spin", guestOnly: true },
];

/** The drivers `bench/connect.js` runs when none are named (the guest-only ones need RDMA devices). */
export const DEFAULT_RPC_DRIVERS = RPC_DRIVERS.filter((d) => !d.guestOnly);

/** The driver with this id, or a thrown Error listing the known ones. */
export function rpcDriverById(id) {
  const driver = RPC_DRIVERS.find((d) => d.id === id);
  if (!driver) throw new Error(`unknown driver "${id}" (known: ${RPC_DRIVERS.map((d) => d.id).join(", ")})`);
  return driver;
}

/** Where a server for `driver` listens in run number `run` ("host:port" or a socket path; port 0: picked). */
export function rpcListenAddress(driver, run) {
  if (driver.transport === "unix" || driver.transport === "shm") return join(tmpdir(), `connect-rdma-rpc-bench-${process.pid}-${run}.sock`);
  if (driver.transport === "rdma") return `${SOFTROCE_IP0}:0`;
  return "127.0.0.1:0";
}

/** The module implementing a driver kind: { startServer(driver, address), createCaller(driver, endpoint, payloadBytes) }. */
export async function rpcImplementation(driver) {
  switch (driver.kind) {
    case "ours":
      return import("./rpc-ours.js");
    case "connect-node":
      return import("./rpc-connect-node.js");
    case "channel-stream":
      return import("./rpc-channel-stream.js");
    case "grpc-js":
      return import("./rpc-grpcjs.js");
    default:
      throw new Error(`driver ${driver.id} (kind ${driver.kind}) has no RPC implementation`);
  }
}
