// capabilities(): what this process can use — io_uring (and why not), RDMA devices
// (and why none), the memlock limit that bounds registered memory for non-root users.
import { native } from "./binding.js";

/** What this machine and process can use. */
export interface Capabilities {
  ioUring: { available: boolean; reason?: string };
  rdma: { available: boolean; reason?: string; devices: string[] };
  /** RLIMIT_MEMLOCK in bytes (Infinity when unlimited). */
  memlock: { soft: number; hard: number };
  /** The addon failed to load: nothing but this reason is known. */
  addon: { loaded: boolean; reason?: string };
}

/** Probes the machine (sets up a tiny ring, dlopen()s libibverbs); cheap enough to call at startup. */
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
  const rdma: Capabilities["rdma"] = { available: probe.rdma.available, devices: probe.rdma.devices };
  if (probe.rdma.reason) rdma.reason = `RDMA unavailable: ${probe.rdma.reason}`;
  return { ioUring, rdma, memlock: probe.memlock, addon: { loaded: true } };
}
