// The drivers the echo benchmark compares: what each row is (label), how its server
// and client are built (kind + engine options), and where the server listens. Adding a
// row (connect-node, grpc-js, RDMA: issue 5) means adding an entry here and, for a new
// kind, a module exporting startServer/connectClient like net-echo.js and channel-echo.js.
import { tmpdir } from "node:os";
import { join } from "node:path";

import { SOFTROCE_IP0 } from "./softroce-addresses.js";

/**
 * @typedef {object} Driver
 * @property {string} id          stable key used in JSON, CLI (--drivers) and ratios
 * @property {string} label       human-readable row name
 * @property {"net" | "channel"} kind  which implementation module serves it
 * @property {"tcp" | "unix" | "rdma" | "shm"} transport
 * @property {"uring" | "net" | "rdma" | "shm"} [engine]  channel kind: which ChannelEngine
 * @property {"event" | "spin"} [poll]   channel kind: completion polling mode
 * @property {boolean} [cork]     net kind: batch the replies of one chunk with cork() (default true)
 * @property {boolean} [optional] not run unless named in --drivers
 */

/** @type {Driver[]} */
export const DRIVERS = [
  { id: "net", label: "raw node:net, TCP", kind: "net", transport: "tcp" },
  { id: "uring-tcp-event", label: "ours io_uring TCP, event", kind: "channel", transport: "tcp", engine: "uring", poll: "event" },
  { id: "uring-tcp-spin", label: "ours io_uring TCP, spin", kind: "channel", transport: "tcp", engine: "uring", poll: "spin" },
  { id: "uring-unix-event", label: "ours io_uring Unix, event", kind: "channel", transport: "unix", engine: "uring", poll: "event" },
  { id: "shm-event", label: "ours shared memory (shm://), event", kind: "channel", transport: "shm", engine: "shm", poll: "event" },
  { id: "shm-spin", label: "ours shared memory (shm://), spin", kind: "channel", transport: "shm", engine: "shm", poll: "spin" },
  { id: "netengine-tcp", label: "ours net engine, TCP", kind: "channel", transport: "tcp", engine: "net", poll: "event" },
  // One socket.write() per request, no cork: how the baselines' net client was written.
  { id: "net-nocork", label: "raw node:net, TCP, write per frame", kind: "net", transport: "tcp", cork: false, optional: true },
  // Soft-RoCE guest only (bench/rdma-guest.js): server on rxe0's address, client bound to rxe1's.
  { id: "rdma-event", label: "ours RDMA (rxe), event", kind: "channel", transport: "rdma", engine: "rdma", poll: "event", optional: true },
];

/** The driver with this id, or a thrown Error listing the known ones. */
export function driverById(id) {
  const driver = DRIVERS.find((d) => d.id === id);
  if (!driver) throw new Error(`unknown driver "${id}" (known: ${DRIVERS.map((d) => d.id).join(", ")})`);
  return driver;
}

/** Where a server for `driver` listens in run number `run` (port 0: the server picks). */
export function listenAddress(driver, run) {
  if (driver.transport === "unix" || driver.transport === "shm") return join(tmpdir(), `connect-rdma-bench-${process.pid}-${run}.sock`);
  if (driver.transport === "rdma") return `${SOFTROCE_IP0}:0`;
  return "127.0.0.1:0";
}

/** The implementation module of a driver kind (loaded in the server/client child only). */
export async function implementation(driver) {
  switch (driver.kind) {
    case "net":
      return import("./net-echo.js");
    case "channel":
      return import("./channel-echo.js");
    default:
      throw new Error(`driver ${driver.id} has unknown kind ${driver.kind}`);
  }
}
