// capabilities(): what this process can use — io_uring (and why not), RDMA devices with
// their ports and states (and why none is usable), the memlock limit that bounds
// registered memory for non-root users, and which path a `tls` option on tcp:// takes
// (kernel TLS offered or not: the tls ULP).
import { existsSync, readFileSync } from "node:fs";
import { release } from "node:os";
import { native } from "./binding.js";

/** Port state names as verbs reports them (`ibv_port_state`). */
export type RdmaPortState = "NOP" | "DOWN" | "INIT" | "ARMED" | "ACTIVE" | "ACTIVE_DEFER" | "UNKNOWN";

/** One port of an RDMA device. */
export interface RdmaPortInfo {
  /** 1-based port number. */
  port: number;
  /** Only an ACTIVE port carries traffic; DOWN: its link (RoCE: the network interface) is down. */
  state: RdmaPortState;
  /** "Ethernet" for RoCE (including soft-RoCE), "InfiniBand", or "unspecified". */
  linkLayer: string;
  /** Active path MTU in bytes (256..4096); 0 when unknown. */
  activeMtu: number;
  /** Size of the port's GID table. */
  gidTableLength: number;
  /** Valid GID entries (RoCE: one per IP address and RoCE version); absent when unknown. */
  gidCount?: number;
}

/** One RDMA device (`ibv_get_device_list`), e.g. `rxe0` or `mlx5_0`. */
export interface RdmaDeviceInfo {
  /** Device name (`ibv_get_device_name`), as `ibv_devinfo` and `rdma link` show it. */
  name: string;
  /** Why the device could not be opened or queried. */
  error?: string;
  /** Its ports (empty when the device could not be queried). */
  ports: RdmaPortInfo[];
}

/** What this machine and process can use. */
export interface Capabilities {
  /** Whether this process can set up an io_uring with the features the engine needs (Linux >= 6.1). */
  ioUring: {
    /** tcp:// and unix:// URLs use io_uring when true ("auto"), the node:net engine otherwise. */
    available: boolean;
    /** Why not: the failing call and errno, sysctl kernel.io_uring_disabled, seccomp, kernel version. */
    reason?: string;
  };
  /** Whether shm:// works here: a sealed memfd region can be created and mapped. */
  shm: {
    /** shm:// URLs can be served and called (peers on this host). */
    available: boolean;
    /** Why not: the failing call and errno. */
    reason?: string;
  };
  /** `available`: libibverbs loaded and some device has an ACTIVE port. */
  rdma: {
    /** rdma:// URLs can be served and called. */
    available: boolean;
    /** Why not ("RDMA unavailable: ..."): rdma-core missing, no device, no ACTIVE port. */
    reason?: string;
    /** Every device libibverbs lists, usable or not. */
    devices: RdmaDeviceInfo[];
  };
  /** RLIMIT_MEMLOCK in bytes (Infinity when unlimited). */
  memlock: {
    /** The limit in force: RDMA registration of a region beyond it fails (ENOMEM) without CAP_IPC_LOCK. */
    soft: number;
    /** How far an unprivileged process may raise the soft limit (`ulimit -l`). */
    hard: number;
  };
  /** Which path a `tls` option on tcp:// gets in this process, and why (docs/SECURITY.md, "TLS paths"). */
  tls: TlsPathInfo;
  /** The addon failed to load: nothing but this reason is known. */
  addon: {
    /** False: nothing works (not even the node:net engine, which sends from a Region). */
    loaded: boolean;
    /** The load error, naming how to build the addon. */
    reason?: string;
  };
}

/** Probes the machine (sets up a tiny ring, opens each RDMA device once); cheap enough to call at startup. */
export function capabilities(): Capabilities {
  let addon;
  try {
    addon = native();
  } catch (error) {
    const reason = (error as Error).message;
    return {
      ioUring: { available: false, reason },
      shm: { available: false, reason },
      rdma: { available: false, reason, devices: [] },
      memlock: { soft: NaN, hard: NaN },
      tls: tlsPath(),
      addon: { loaded: false, reason },
    };
  }
  const probe = addon.capabilities();
  const ioUring: Capabilities["ioUring"] = { available: probe.ioUring.available };
  if (probe.ioUring.reason) ioUring.reason = probe.ioUring.reason;
  const devices = probe.rdma.devices.map((device): RdmaDeviceInfo => {
    const info: RdmaDeviceInfo = {
      name: device.name,
      ports: device.ports.map((port) => ({ ...port, state: port.state as RdmaPortState })),
    };
    if (device.error) info.error = device.error;
    return info;
  });
  const rdma: Capabilities["rdma"] = { available: probe.rdma.available, devices };
  if (probe.rdma.reason) rdma.reason = `RDMA unavailable: ${probe.rdma.reason}`;
  const shm: Capabilities["shm"] = { available: probe.shm.available };
  if (probe.shm.reason) shm.reason = probe.shm.reason;
  return { ioUring, shm, rdma, memlock: probe.memlock, tls: tlsPath(), addon: { loaded: true } };
}

/** The path of TLS connections on tcp:// and whether the kernel could offer the other one. */
export interface TlsPathInfo {
  /**
   * "ktls": the handshake in node:tls, then kernel TLS with the data path on io_uring (TLS
   * 1.3, AES-GCM); "tlssocket": the node:net engine over a node:tls TLSSocket (OpenSSL in
   * Node encrypts). A `minVersion: "TLSv1.2"` takes the TLSSocket path even where "ktls" is offered.
   */
  path: "ktls" | "tlssocket";
  /** Whether the kernel offers kernel TLS here (the "tls" upper-layer protocol is listed in tcp_available_ulp). */
  ktls: boolean;
  /** Why the path is what it is: what the kernel and this process offer. */
  reason: string;
}

const ULP_LIST = "/proc/sys/net/ipv4/tcp_available_ulp";

/** Whether the kernel offers kTLS (the tls ULP), and why not: reads /proc and /lib/modules, cheap. */
export function ktlsOffered(): { offered: boolean; reason: string } {
  let ulps: string[];
  try {
    ulps = readFileSync(ULP_LIST, "utf8").trim().split(/\s+/).filter(Boolean);
  } catch (error) {
    return { offered: false, reason: `cannot read ${ULP_LIST} (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
  if (ulps.includes("tls")) return { offered: true, reason: `the kernel offers the tls ULP (${ULP_LIST}: ${ulps.join(" ")})` };
  const moduleDir = `/lib/modules/${release()}/kernel/net/tls`;
  const module = ["tls.ko", "tls.ko.xz", "tls.ko.zst", "tls.ko.gz"].find((name) => existsSync(`${moduleDir}/${name}`));
  const listed = `${ULP_LIST} lists ${ulps.length > 0 ? ulps.join(" ") : "nothing"}`;
  if (module !== undefined) return { offered: false, reason: `the tls module is not loaded (${listed}; ${moduleDir}/${module} exists: modprobe tls)` };
  return { offered: false, reason: `the kernel offers no tls ULP (${listed}, and no tls module under /lib/modules/${release()})` };
}

/** Which path a `tls` option takes here and why. */
export function tlsPath(): TlsPathInfo {
  const ktls = ktlsOffered();
  if (!ktls.offered) return { path: "tlssocket", ktls: false, reason: `no kTLS: ${ktls.reason}; TLS runs on the node:net engine over a TLSSocket` };
  let uring: { available: boolean; reason?: string };
  try {
    uring = native().capabilities().ioUring;
  } catch (error) {
    uring = { available: false, reason: (error as Error).message };
  }
  if (!uring.available) {
    return { path: "tlssocket", ktls: true, reason: `${ktls.reason}, but io_uring is unavailable (${uring.reason ?? "unknown"}): TLS runs on the node:net engine over a TLSSocket` };
  }
  return { path: "ktls", ktls: true, reason: `${ktls.reason}: TLS 1.3 connections run on io_uring with kernel TLS (the handshake in node:tls)` };
}
