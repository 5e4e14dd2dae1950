// Engine selection: which ChannelEngine carries a URL. tcp:// and unix:// go to io_uring
// when this process can use it, else to the node:net fallback (and say so through
// `channel.engine`); memory:// to the in-process engine; rdma:// to the RDMA engine;
// shm:// to the shared-memory engine (processes of one host).
// CONNECT_RDMA_ENGINE=net|uring overrides "auto" (how the suites force the fallback); any
// other value is an error, not ignored. A `tls` option sends tcp:// to io_uring with kernel
// TLS where the kernel offers it, else to the node:net engine over TLSSockets
// (capabilities().tls says which and why; docs/SECURITY.md "TLS paths").
import { native } from "../binding.js";
import { tlsPath } from "../capabilities.js";
import { codedError } from "../errors.js";
import type { RegionOptions } from "../region.js";
import { parseChannelUrl } from "./address.js";
import type { ChannelEngine } from "./channel.js";
import { createMemoryEngine } from "./memory.js";
import { NetEngine, type NetTlsOptions } from "./net-engine.js";
import { RdmaEngine } from "./rdma-engine.js";
import { ShmEngine } from "./shm-engine.js";
import { UringEngine } from "./uring-engine.js";
import { KtlsEngine } from "./ktls-engine.js";

/** How an engine is chosen and driven. */
export interface EngineOptions {
  /** Completion polling: sleep on the event loop (default), or bounded busy-polling. */
  poll?: "event" | "spin";
  /** Busy-poll budget after the last completion, in µs (spin mode; default 50). */
  spinMicros?: number;
  /** Which engine carries tcp:// and unix:// URLs (default "auto": io_uring when available). */
  engine?: "auto" | "uring" | "net";
  /** Region sizes (receive slots, lease area). */
  region?: RegionOptions;
  /** Largest frame sent or accepted, in bytes (default 32 MiB). */
  maxFrameBytes?: number;
  /** rdma:// only: source IP for outgoing connections (selects the local RDMA device). */
  localAddress?: string;
  /** tcp:// only: TLS for listen() (`server`) and connect() (`client`). */
  tls?: NetTlsOptions;
}

/**
 * Throws TypeError when `tls` is asked of an engine that cannot carry it here: engine
 * "uring" explicitly where the kernel offers no kTLS, or with `minVersion: "TLSv1.2"`
 * (kTLS runs TLS 1.3 here; running TLS elsewhere silently would mislead whoever asked
 * for io_uring), or an engine instance (it was built without tls).
 */
export function checkTlsEngine(where: string, engine: unknown, tls?: { minVersion?: unknown }): void {
  if (engine === "uring") {
    const path = tlsPath();
    if (path.path !== "ktls") throw new TypeError(`${where}: engine "uring" cannot carry tls here: ${path.reason}; use engine "auto" or "net"`);
    if (tls?.minVersion === "TLSv1.2") throw new TypeError(`${where}: engine "uring" carries TLS 1.3 only (kernel TLS); minVersion "TLSv1.2" needs engine "auto" or "net" (the TLSSocket path)`);
  }
  if (typeof engine === "object" && engine !== null) {
    throw new TypeError(`${where}: "tls" applies to engines created for it; with an engine instance, give the engine its tls (NetEngine's "tls" option)`);
  }
}

/** Whether `tls` takes the kTLS path here: the kernel and io_uring offer it and no side allows TLS 1.2. */
function ktlsFits(tls: NetTlsOptions): boolean {
  if (tls.server?.minVersion === "TLSv1.2" || tls.client?.minVersion === "TLSv1.2") return false;
  return tlsPath().path === "ktls";
}

/** The engine CONNECT_RDMA_ENGINE forces for tcp:// and unix://, if any; throws TypeError for a value it cannot mean. */
export function forcedEngine(): "uring" | "net" | undefined {
  const forced = process.env.CONNECT_RDMA_ENGINE;
  if (forced === "net" || forced === "uring") return forced;
  if (forced === undefined || forced === "" || forced === "auto") return undefined;
  throw new TypeError(`CONNECT_RDMA_ENGINE must be "uring", "net" or "auto" (or unset), got "${forced}"`);
}

/** The engine "auto" resolves to in this process, with the reason for a fallback. */
export function autoEngine(): {
  /** The engine tcp:// and unix:// URLs get. */
  engine: "uring" | "net";
  /** Why it is not io_uring (or that CONNECT_RDMA_ENGINE forced it); absent when it is. */
  reason?: string;
} {
  const forced = forcedEngine();
  if (forced !== undefined) return { engine: forced, reason: `CONNECT_RDMA_ENGINE=${forced}` };
  const uring = native().capabilities().ioUring;
  return uring.available ? { engine: "uring" } : { engine: "net", reason: uring.reason ?? "io_uring unavailable" };
}

function commonOptions(options: EngineOptions) {
  return {
    poll: options.poll ?? "event",
    spinMicros: options.spinMicros ?? 50,
    ...(options.region ? { region: options.region } : {}),
    ...(options.maxFrameBytes !== undefined ? { maxFrameBytes: options.maxFrameBytes } : {}),
  };
}

/** Returns a new engine for the URL's scheme; the caller owns it (closes it). */
export function engineForUrl(url: string, options: EngineOptions = {}): ChannelEngine {
  const address = parseChannelUrl(url);
  switch (address.scheme) {
    case "memory":
      return createMemoryEngine();
    case "rdma": {
      const rdma = native().capabilities().rdma;
      if (!rdma.available) throw codedError("ERR_RDMA_UNAVAILABLE", `RDMA unavailable: ${rdma.reason}`);
      return new RdmaEngine({
        ...commonOptions(options),
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      });
    }
    case "shm":
      return new ShmEngine(commonOptions(options));
    default: {
      if (options.tls !== undefined) {
        if (address.scheme !== "tcp") throw new TypeError(`tls applies to tcp:// URLs only, not ${url}`);
        if (options.engine === "uring") checkTlsEngine("engineForUrl", "uring", options.tls.server ?? options.tls.client);
        if (options.engine !== "net" && ktlsFits(options.tls)) return new KtlsEngine({ ...commonOptions(options), tls: options.tls });
        return new NetEngine({ ...commonOptions(options), tls: options.tls });
      }
      const kind = options.engine && options.engine !== "auto" ? options.engine : autoEngine().engine;
      return kind === "uring" ? new UringEngine(commonOptions(options)) : new NetEngine(commonOptions(options));
    }
  }
}
