// The options of createUringTransport() and createRdmaTransport(), the surface of the
// transport they return, and what the transport makes of its options: the TLS checks and
// the options of each session it opens (transport.ts runs the calls).

import type { BinaryReadOptions, BinaryWriteOptions } from "@bufbuild/protobuf";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { parseChannelUrl } from "../channel/address.js";
import type { ChannelEngine } from "../channel/channel.js";
import { checkTlsEngine } from "../channel/engines.js";
import { clientTlsOptions, type ClientTlsOptions } from "../channel/tls-options.js";
import { checkClientAuth } from "../frame/auth.js";
import type { ClientAuth } from "../frame/auth.js";
import type { SessionOptions } from "../frame/session.js";
import type { BytesPolicy } from "./decode.js";
import type { MessageLimitOptions, MessageLimits } from "./message-limits.js";
import type { RpcStats } from "./stats.js";

/** Options of {@link createUringTransport}. */
export interface UringTransportOptions extends MessageLimitOptions {
  /** Where the server listens: `tcp://host:port`, `unix:///path`, `memory://name`, … */
  url: string;
  /**
   * The channel engine: an engine instance (shared, not closed by the transport), or
   * which engine to pick for the URL ("auto" default; the transport owns and closes it).
   */
  engine?: ChannelEngine | "auto" | "uring" | "net";
  /** Completion polling of an engine the transport creates. Default "event". */
  poll?: "event" | "spin";
  /** Interceptors, applied like connect-es: the first one is the outermost (runs first, sees the response last). */
  interceptors?: Interceptor[];
  /** `bytes`/unknown fields of responses: copied out (default) or views into the region. */
  bytes?: BytesPolicy;
  /** Timeout applied when a call gives none (≤ 0 or undefined: none). */
  defaultTimeoutMs?: number;
  /** Largest response metadata block accepted. Default 64 KiB. */
  maxHeaderBytes?: number;
  /** Flow-control window per stream for responses. Default 1 MiB. */
  initialWindowBytes?: number;
  /** Connecting plus handshake must complete within this. Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * A pre-shared key to prove in the handshake, and to require the server to prove:
   * `{ keyId, secret }` (secret: a Uint8Array of at least 32 bytes). A server that does
   * not hold the key, or has no keys, fails the calls with Unauthenticated. docs/SECURITY.md.
   */
  auth?: ClientAuth;
  /** Bound on waiting for region space when sending; then ResourceExhausted. Default 10 s. */
  sendTimeoutMs?: number;
  /**
   * PING the server after this long without a frame from it, and close the connection
   * (its calls fail with Unavailable) when no PONG comes within `keepaliveTimeoutMs`.
   * Default 0: off (docs/LIMITS.md, "keepalive").
   */
  keepaliveMs?: number;
  /** How long a keepalive PING waits for its PONG. Default 20 s. */
  keepaliveTimeoutMs?: number;
  /** protobuf-es binary options. */
  binaryOptions?: Partial<BinaryReadOptions & BinaryWriteOptions>;
  /**
   * TLS to a tcp:// server, named as node:tls names them (ca, key and cert for mutual TLS,
   * servername, rejectUnauthorized, minVersion default TLS 1.3). A server certificate that
   * does not verify fails calls with Unavailable; a client certificate the server refuses,
   * with Unauthenticated; both carry node:tls's reason (docs/SECURITY.md, "TLS").
   */
  tls?: ClientTlsOptions;
}

/** A Connect transport over connect-rdma channels, with a lifetime. */
export interface UringTransport extends Transport, AsyncDisposable {
  /** Cancels calls in flight (Canceled), closes the connection and an owned engine. */
  close(): Promise<void>;
  /** Counters since creation. */
  stats(): RpcStats;
  /**
   * Round trip of a PING on the connection (opens it if needed), in milliseconds. Rejects
   * with DeadlineExceeded when no PONG came within `timeoutMs` (default 10 s; ≤ 0: none),
   * with the abort reason (Canceled) when `signal` aborts, Unavailable when the
   * connection fails.
   */
  ping(options?: PingOptions): Promise<number>;
}

/** Options of {@link UringTransport.ping}. */
export interface PingOptions {
  /** No PONG within this: DeadlineExceeded. Default 10 s; ≤ 0: no timeout. */
  timeoutMs?: number;
  /** Aborting it rejects the ping with its reason. */
  signal?: AbortSignal;
}

/** Options of {@link createRdmaTransport}. */
export interface RdmaTransportOptions extends Omit<UringTransportOptions, "engine"> {
  /** Where the server listens: `rdma://ip:port` (the address of its RDMA device). */
  url: string;
  /**
   * An RDMA engine instance to share (not closed by the transport). Default: the
   * transport creates one on first use and closes it in close().
   */
  engine?: ChannelEngine;
  /**
   * Source IP address to bind outgoing connections to; it selects the local RDMA device
   * and port. Default: the one rdma_cm's route resolution picks for the destination.
   */
  localAddress?: string;
}

/** A Connect transport over RDMA (the same surface as {@link UringTransport}). */
export type RdmaTransport = UringTransport;

/** Throws TypeError for `tls` options that are wrong, on a URL other than tcp://, or with an engine without TLS. */
export function checkTransportTls(options: UringTransportOptions): void {
  if (options.tls === undefined) return;
  clientTlsOptions("createUringTransport", options.tls);
  if (parseChannelUrl(options.url).scheme !== "tcp") throw new TypeError(`createUringTransport: tls applies to tcp:// URLs only, not ${options.url}`);
  if (options.engine !== undefined) checkTlsEngine("createUringTransport", options.engine, options.tls);
}

/** The options of each session the transport opens; `factory` names the caller in errors about `auth`. */
export function transportSessionOptions(options: UringTransportOptions, limits: MessageLimits, factory: string): SessionOptions {
  return {
    maxMessageBytes: limits.readMaxBytes,
    ...(options.maxHeaderBytes !== undefined ? { maxHeaderBytes: options.maxHeaderBytes } : {}),
    ...(options.initialWindowBytes !== undefined ? { initialWindowBytes: options.initialWindowBytes } : {}),
    ...(options.connectTimeoutMs !== undefined ? { handshakeTimeoutMs: options.connectTimeoutMs } : {}),
    ...(options.sendTimeoutMs !== undefined ? { sendTimeoutMs: options.sendTimeoutMs } : {}),
    ...(options.keepaliveMs !== undefined ? { keepaliveMs: options.keepaliveMs } : {}),
    ...(options.keepaliveTimeoutMs !== undefined ? { keepaliveTimeoutMs: options.keepaliveTimeoutMs } : {}),
    ...(options.auth !== undefined ? { clientAuth: checkClientAuth(options.auth, factory) } : {}),
  };
}
