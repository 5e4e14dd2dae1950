// capabilities(): what this process can use — io_uring (and why not), RDMA devices with
// their ports and states (and why none is usable), the memlock limit that bounds
// registered memory for non-root users.
import { native } from "./binding.js";

/** Port state names as verbs reports them (`ibv_port_state`). */
export type RdmaPortState = "NOP" | "DOWN" | "INIT" | "ARMED" | "ACTIVE" | "ACTIVE_DEFER" | "UNKNOWN";

/** One port of an RDMA device. */
export interface RdmaPortInfo {
  /** 1-based port number. */
  port: number;
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
  name: string;
  /** Why the device could not be opened or queried. */
  error?: string;
  ports: RdmaPortInfo[];
}

/** What this machine and process can use. */
export interface Capabilities {
  ioUring: { available: boolean; reason?: string };
  /** `available`: libibverbs loaded and some device has an ACTIVE port. */
  rdma: { available: boolean; reason?: string; devices: RdmaDeviceInfo[] };
  /** RLIMIT_MEMLOCK in bytes (Infinity when unlimited). */
  memlock: { soft: number; hard: number };
  /** The addon failed to load: nothing but this reason is known. */
  addon: { loaded: boolean; reason?: string };
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
      rdma: { available: false, reason, devices: [] },
      memlock: { soft: NaN, hard: NaN },
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
  return { ioUring, rdma, memlock: probe.memlock, addon: { loaded: true } };
}
