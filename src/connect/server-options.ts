// The options of createServer(), the surface of the server it returns and what it
// reports (request info, authentication failures, stats), and what the server makes of
// its options: the checks of their values, the options of each session it accepts and
// the deadline a call gets under maxTimeoutMs (server.ts serves the calls).

import type { BinaryReadOptions, BinaryWriteOptions } from "@bufbuild/protobuf";
import type { ConnectRouter, ContextValues, Interceptor } from "@connectrpc/connect";
import type { ChannelEngine } from "../channel/channel.js";
import { checkTlsEngine } from "../channel/engines.js";
import { serverTlsOptions, type ServerTlsOptions } from "../channel/tls-options.js";
import type { TlsFailureReason } from "../channel/tls-failure.js";
import { checkServerAuth } from "../frame/auth.js";
import type { ServerAuthOptions } from "../frame/auth.js";
import type { AuthFailureReason } from "../frame/auth-handshake.js";
import type { SessionOptions } from "../frame/session.js";
import type { BytesPolicy } from "./decode.js";
import type { MessageLimitOptions } from "./message-limits.js";
import type { Peer } from "./peer.js";
import type { RpcStats } from "./stats.js";
import type { UnixServerOptions } from "./unix-admission.js";

/** Connections a server keeps open at once unless told otherwise. */
const DEFAULT_MAX_CONNECTIONS = 10_000;

/** What {@link ServerOptions.contextValues} is told about a call (there is no HTTP request here). */
export interface ServerRequestInfo {
  /** The call's URL: the bound URL plus `/package.Service/Method` (the handler's ctx.url). */
  readonly url: string;
  /** The request headers (the handler's ctx.requestHeader). */
  readonly header: Headers;
  /** Who is at the other end of the call's connection (also in every call's ctx.values under `peerKey`). */
  readonly peer: Peer;
}

/** What {@link ServerOptions.onAuthFailure} is told about a connection refused by `auth` or by `tls`. */
export interface AuthFailureInfo {
  /**
   * Why: an `auth` reason (src/frame/auth-handshake.ts) or, with `tls`, a "tls-…" one
   * (src/channel/tls-failure.ts); docs/SECURITY.md, "Failures".
   */
  readonly reason: AuthFailureReason | TlsFailureReason;
  /** The key id the client named, if it named one (unverified: the client chose it). */
  readonly keyId?: string;
  /** TLS failures: node:tls's reason and code, or the client certificate refusal the client was told. */
  readonly message?: string;
  /** Who connected (no `keyId`: nothing was authenticated). */
  readonly peer: Peer;
}

/** Counters of a server: those of every transport, plus authentication and TLS failures. */
export interface ServerStats extends RpcStats {
  /** With `auth`: connections that ended before the handshake authenticated them. */
  authFailures: number;
  /**
   * With `tls`: connections that failed TLS (handshake failed or timed out, plaintext
   * client, client certificate refused); each also reaches `onAuthFailure` ("tls-…" reason).
   */
  tlsFailures: number;
  /** Connections refused at accept: unix:// or shm:// peers the `unix` option does not admit. */
  refusedPeers: number;
}

/** Options of {@link createServer}. */
export interface ServerOptions extends MessageLimitOptions {
  /** Registers the services: the same function connect-node's adapters take. */
  routes: (router: ConnectRouter) => void;
  /** Server interceptors (a registration's own `interceptors` option overrides them). */
  interceptors?: Interceptor[];
  /**
   * Creates each call's context values (ctx.values of interceptors and handler), as
   * connect-node's adapter option; it gets the call's URL and request headers. A throw
   * answers the call as a handler's throw would (a ConnectError as it is, else Internal).
   */
  contextValues?: (req: ServerRequestInfo) => ContextValues;
  /**
   * Longest deadline a call gets, in ms: a client asking for a longer one, or for none,
   * gets this one (ctx.signal aborts with DeadlineExceeded when it passes). Default: none.
   * connect-node answers a longer request InvalidArgument instead (docs/LIMITS.md).
   */
  maxTimeoutMs?: number;
  /** `bytes`/unknown fields of requests: copied out (default) or views held until the handler settled. */
  bytes?: BytesPolicy;
  /** An engine instance (shared, not closed by the server), or which one to pick per URL. */
  engine?: ChannelEngine | "auto" | "uring" | "net";
  /** Completion polling of engines the server creates. Default "event". */
  poll?: "event" | "spin";
  /** Largest request metadata block accepted. Default 64 KiB. */
  maxHeaderBytes?: number;
  /** Calls one connection may have in flight. Default 1024. */
  maxConcurrentStreams?: number;
  /** Flow-control window per stream for requests. Default 1 MiB. */
  initialWindowBytes?: number;
  /** A new connection must complete the handshake (HELLO, and AUTH with `auth`) within this. Default 10 s. */
  handshakeTimeoutMs?: number;
  /**
   * Pre-shared keys: clients must prove one in the handshake (mutual HMAC-SHA-256
   * challenge–response) before any call is taken; `required: false` also admits clients
   * that send no key. Secrets: Uint8Arrays of at least 32 bytes. docs/SECURITY.md.
   */
  auth?: ServerAuthOptions;
  /**
   * Called once for each connection refused by `auth` (it ended before it was
   * authenticated: counted in `stats().authFailures`) or by `tls` (it failed TLS, reason
   * "tls-…": counted in `stats().tlsFailures`). A throw (or a rejected promise) is ignored.
   */
  onAuthFailure?: (failure: AuthFailureInfo) => void;
  /** Connections without calls for this long are closed (GOAWAY). Default 300 s; 0: never. */
  idleTimeoutMs?: number;
  /** Bound on waiting for region space when sending; then the call fails. Default 10 s. */
  sendTimeoutMs?: number;
  /**
   * Connections open at once; one more is answered with GOAWAY (Unavailable, "connection
   * limit") and closed. Default 10,000 (docs/LIMITS.md).
   */
  maxConnections?: number;
  /**
   * PING a client after this long without a frame from it, and close the connection (its
   * calls' signals abort with Unavailable) when no PONG comes within `keepaliveTimeoutMs`.
   * Default 0: off (docs/LIMITS.md, "keepalive").
   */
  keepaliveMs?: number;
  /** How long a keepalive PING waits for its PONG. Default 20 s. */
  keepaliveTimeoutMs?: number;
  /** Grace period of close() for calls in flight. Default 5 s. */
  gracePeriodMs?: number;
  /** protobuf-es binary options. */
  binaryOptions?: Partial<BinaryReadOptions & BinaryWriteOptions>;
  /**
   * unix:// (and shm://) listeners: admit only peers running as one of `allowUids` or with
   * a primary gid in `allowGids` (SO_PEERCRED at accept; a refused connection is closed
   * before any frame of it is read and counted in `stats().refusedPeers`), and the socket
   * file's `mode` (default 0o600, owner only). docs/SECURITY.md, "Unix sockets".
   */
  unix?: UnixServerOptions;
  /**
   * Listening on a tcp:// or rdma:// address other hosts can reach, without `auth` or
   * `tls`, is intended: no CONNECT_RDMA_UNPROTECTED warning. Default false.
   */
  allowUnprotected?: boolean;
  /**
   * TLS on tcp:// listeners, named as node:tls names them (key and cert required; ca,
   * requestCert, rejectUnauthorized for mutual TLS; minVersion default TLS 1.3). A handler
   * reads the client's certificate as `ctx.values.get(peerKey)?.certificate`. Listening on
   * another scheme with `tls` is a TypeError (docs/SECURITY.md, "TLS").
   */
  tls?: ServerTlsOptions;
}

/** A Connect server on connect-rdma channels. */
export interface Server extends AsyncDisposable {
  /**
   * Starts listening (`tcp://host:port`, `unix:///path`, `rdma://ip:port`,
   * `memory://name`; port 0 picks one). Each URL gets the engine its scheme needs
   * (unless the `engine` option is an instance): io_uring or node:net for tcp/unix,
   * RDMA for rdma (rejects with code ERR_RDMA_UNAVAILABLE where RDMA is unavailable).
   * Resolves with the bound URL. May be called several times.
   */
  listen(url: string): Promise<string>;
  /** The URLs listened on. */
  readonly urls: readonly string[];
  /**
   * Graceful shutdown: stop accepting, refuse new calls (Unavailable), let calls in flight
   * finish for `gracePeriodMs` (default: the option), then abort them and close.
   */
  close(gracePeriodMs?: number): Promise<void>;
  /** Counters since creation. */
  stats(): ServerStats;
}

/** The options of each session the server accepts. */
export function serverSessionOptions(options: ServerOptions, readMaxBytes: number): SessionOptions {
  return {
    maxMessageBytes: readMaxBytes,
    idleTimeoutMs: options.idleTimeoutMs ?? 300_000,
    ...(options.maxHeaderBytes !== undefined ? { maxHeaderBytes: options.maxHeaderBytes } : {}),
    ...(options.maxConcurrentStreams !== undefined ? { maxConcurrentStreams: options.maxConcurrentStreams } : {}),
    ...(options.initialWindowBytes !== undefined ? { initialWindowBytes: options.initialWindowBytes } : {}),
    ...(options.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: options.handshakeTimeoutMs } : {}),
    ...(options.sendTimeoutMs !== undefined ? { sendTimeoutMs: options.sendTimeoutMs } : {}),
    ...(options.keepaliveMs !== undefined ? { keepaliveMs: options.keepaliveMs } : {}),
    ...(options.keepaliveTimeoutMs !== undefined ? { keepaliveTimeoutMs: options.keepaliveTimeoutMs } : {}),
    ...(options.auth !== undefined ? { serverAuth: checkServerAuth(options.auth, "createServer") } : {}),
  };
}

/**
 * Throws TypeError or RangeError for onAuthFailure, maxConnections, maxTimeoutMs or
 * contextValues values the server cannot use; returns the connection limit.
 */
export function checkServerOptionValues(options: ServerOptions): number {
  if (options.onAuthFailure !== undefined && typeof options.onAuthFailure !== "function") {
    throw new TypeError('createServer: option "onAuthFailure" must be a function ({ reason, keyId, peer }) => void');
  }
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new RangeError(`maxConnections must be a positive integer, got ${options.maxConnections}`);
  }
  const max = options.maxTimeoutMs;
  if (max !== undefined && !(typeof max === "number" && max > 0 && Number.isFinite(max))) {
    throw new RangeError(`maxTimeoutMs must be a positive number of ms, got ${String(max)}`);
  }
  if (options.contextValues !== undefined && typeof options.contextValues !== "function") {
    throw new TypeError('createServer: option "contextValues" must be a function (req) => ContextValues');
  }
  return maxConnections;
}

/** Throws TypeError for `tls` options that are wrong or an engine without TLS. */
export function checkServerTls(options: ServerOptions): void {
  if (options.tls === undefined) return;
  serverTlsOptions("createServer", options.tls);
  if (options.engine !== undefined) checkTlsEngine("createServer", options.engine, options.tls);
}

/** The deadline a call gets: the client's, at most `max` (maxTimeoutMs; a client without one gets `max`). */
export function clampTimeout(requested: number | undefined, max: number | undefined): number | undefined {
  if (max === undefined) return requested;
  return requested === undefined ? max : Math.min(requested, max);
}
