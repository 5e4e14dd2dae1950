// createServer(): serves the implementations of a `routes` function (the same function
// users pass to connectNodeAdapter) on channel listeners. Each accepted channel gets a
// server session (src/frame/); each CALL_START becomes a ServerCall that runs the
// implementation directly. close() is graceful: listeners stop, sessions send GOAWAY
// (new calls → Unavailable), calls in flight get a grace period, then their signals
// abort with Unavailable and the connections close. With `auth`, a session takes calls
// only once the client proved a key (src/frame/auth-handshake.ts); failures are counted
// and reported to `onAuthFailure`.

import type { BinaryReadOptions, BinaryWriteOptions } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ConnectRouter, ContextValues, Interceptor } from "@connectrpc/connect";
import type { Channel, ChannelEngine, ChannelEvents, ChannelStats, Listener } from "../channel/channel.js";
import { checkTlsEngine, engineForUrl } from "../channel/engines.js";
import { serverTlsOptions, type ServerTlsOptions } from "../channel/tls-options.js";
import { checkServerAuth } from "../frame/auth.js";
import type { ServerAuthOptions } from "../frame/auth.js";
import type { AuthFailureReason } from "../frame/auth-handshake.js";
import { LiveSet } from "../frame/live-set.js";
import { Session } from "../frame/session.js";
import type { SessionOptions } from "../frame/session.js";
import type { StreamHandler } from "../frame/stream.js";
import type { BytesPolicy } from "./decode.js";
import { createCallValues } from "./context-values.js";
import { peerKey, peerOf } from "./peer.js";
import type { Peer } from "./peer.js";
import { bindError } from "./bind-error.js";
import { checkServerOptions } from "./foreign-options.js";
import { resolveMessageLimits } from "./message-limits.js";
import type { MessageLimitOptions } from "./message-limits.js";
import { collectRoutes } from "./routes.js";
import { unixAdmission } from "./unix-admission.js";
import type { Admission, UnixServerOptions } from "./unix-admission.js";
import { warnIfUnprotected } from "./unprotected-warning.js";
import type { ProtectionOptions } from "./unprotected-warning.js";
import type { Route } from "./routes.js";
import { ServerCall } from "./server-call.js";
import { refuseCall } from "./server-response.js";
import type { ServerCallConfig } from "./server-call.js";
import { Counters, addChannelStats, emptyChannelStats } from "./stats.js";
import type { RpcStats } from "./stats.js";

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

/** What {@link ServerOptions.onAuthFailure} is told about a connection refused by `auth`. */
export interface AuthFailureInfo {
  /** Why (src/frame/auth-handshake.ts lists each reason; docs/SECURITY.md). */
  readonly reason: AuthFailureReason;
  /** The key id the client named, if it named one (unverified: the client chose it). */
  readonly keyId?: string;
  /** Who connected (no `keyId`: nothing was authenticated). */
  readonly peer: Peer;
}

/** Counters of a server: those of every transport, plus authentication failures. */
export interface ServerStats extends RpcStats {
  /** With `auth`: connections that ended before the handshake authenticated them. */
  authFailures: number;
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
   * With `auth`: called for each connection that ended before it was authenticated (also
   * counted in `stats().authFailures`). A throw (or a rejected promise) is ignored.
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

/** Creates a server for the routes; call listen() to serve them. */
export function createServer(options: ServerOptions): Server {
  checkServerOptions(options);
  return new ConnectRdmaServer(options);
}

/** The events of a connection refused at accept: nothing of it is read. */
const REFUSED: ChannelEvents = { onFrame: () => undefined, onEnd: () => undefined, onClose: () => undefined };

/** The handler of a stream answered before any call ran: its further frames mean nothing. */
const IGNORED: StreamHandler = { onFrame: () => undefined, onReset: () => undefined };

interface Bound {
  listener: Listener;
  engine: ChannelEngine;
  owned: boolean;
}

class ConnectRdmaServer implements Server {
  readonly #options: ServerOptions;
  readonly #routes: Map<string, Route>;
  readonly #counters = new Counters();
  readonly #config: ServerCallConfig;
  readonly #sessionOptions: SessionOptions;
  readonly #bound: Bound[] = [];
  readonly #sessions = new Set<Session>();
  readonly #calls = new LiveSet<ServerCall>();
  readonly #pastChannels: ChannelStats = emptyChannelStats();
  readonly #maxConnections: number;
  #authFailures = 0;
  readonly #admission: Admission | undefined;
  #refusedPeers = 0;
  #warnedUnprotected = false;
  #sharedEngine: ChannelEngine | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    this.#options = options;
    this.#routes = collectRoutes(options.routes);
    const { readMaxBytes, writeMaxBytes } = resolveMessageLimits(options);
    this.#config = {
      policy: options.bytes ?? "copy",
      counters: this.#counters,
      readMaxBytes,
      writeMaxBytes,
      readOptions: options.binaryOptions,
      writeOptions: options.binaryOptions,
      interceptors: options.interceptors ?? [],
      maxTimeoutMs: options.maxTimeoutMs,
      onSettled: (call) => this.#calls.delete(call),
    };
    this.#sessionOptions = {
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
    if (options.onAuthFailure !== undefined && typeof options.onAuthFailure !== "function") {
      throw new TypeError('createServer: option "onAuthFailure" must be a function ({ reason, keyId, peer }) => void');
    }
    this.#maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (!Number.isInteger(this.#maxConnections) || this.#maxConnections < 1) {
      throw new RangeError(`maxConnections must be a positive integer, got ${options.maxConnections}`);
    }
    const max = options.maxTimeoutMs;
    if (max !== undefined && !(typeof max === "number" && max > 0 && Number.isFinite(max))) {
      throw new RangeError(`maxTimeoutMs must be a positive number of ms, got ${String(max)}`);
    }
    if (options.contextValues !== undefined && typeof options.contextValues !== "function") {
      throw new TypeError('createServer: option "contextValues" must be a function (req) => ContextValues');
    }
    this.#admission = unixAdmission(options.unix);
    if (options.tls !== undefined) {
      serverTlsOptions("createServer", options.tls);
      if (options.engine !== undefined) checkTlsEngine("createServer", options.engine);
    }
    if (typeof options.engine === "object") this.#sharedEngine = options.engine;
  }

  get urls(): readonly string[] {
    return this.#bound.map((b) => b.listener.url);
  }

  async listen(url: string): Promise<string> {
    if (this.#closing !== undefined) throw new ConnectError("server is closed", Code.Unavailable);
    const owned = this.#sharedEngine === undefined;
    const engine =
      this.#sharedEngine ??
      engineForUrl(url, {
        poll: this.#options.poll ?? "event",
        engine: typeof this.#options.engine === "string" ? this.#options.engine : "auto",
        ...(this.#options.tls !== undefined ? { tls: { server: this.#options.tls } } : {}),
      });
    let listener: Listener;
    try {
      // Calls' URLs (ctx.url) are the bound URL plus the method path.
      const base = { url: url.replace(/\/$/, "") };
      const socketMode = this.#options.unix?.mode;
      listener = await engine.listen(url, (channel) => this.#accept(channel, base), socketMode !== undefined ? { socketMode } : undefined);
      base.url = listener.url.replace(/\/$/, "");
    } catch (e) {
      if (owned) await engine.close();
      throw bindError(url, e);
    }
    this.#bound.push({ listener, engine, owned });
    // One warning per server. `auth` and `tls` are read as the options that carry them define them.
    if (!this.#warnedUnprotected) this.#warnedUnprotected = warnIfUnprotected(listener.url, this.#options as ProtectionOptions);
    return listener.url;
  }

  close(gracePeriodMs?: number): Promise<void> {
    this.#closing ??= this.#close(gracePeriodMs ?? this.#options.gracePeriodMs ?? 5000);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  stats(): ServerStats {
    const channels = { ...this.#pastChannels };
    for (const s of this.#sessions) addChannelStats(channels, s.stats());
    return { ...this.#counters.snapshot(this.#sessions.size, channels), authFailures: this.#authFailures, refusedPeers: this.#refusedPeers };
  }

  /** Counts a refused connection and tells `onAuthFailure`, whose throws and rejections are dropped. */
  #onAuthFailure(channel: Channel, reason: AuthFailureReason, keyId: string | undefined): void {
    this.#authFailures++;
    const callback = this.#options.onAuthFailure;
    if (callback === undefined) return;
    try {
      const info: AuthFailureInfo = { reason, ...(keyId !== undefined ? { keyId } : {}), peer: peerOf(channel.engine, channel.peer, undefined) };
      const result: unknown = callback(info);
      if (result instanceof Promise) result.catch(() => undefined);
    } catch {
      // The server's job goes on: a failing observer must not take connections down.
    }
  }

  #accept(channel: Channel, base: { readonly url: string }): ChannelEvents {
    if (this.#admission !== undefined && /^(unix|shm):/.test(base.url) && !this.#admission(channel.peer)) {
      // Closed before any frame of it is read: its client sees the connection refused.
      this.#refusedPeers++;
      queueMicrotask(() => channel.close(true));
      return REFUSED;
    }
    const holder: { session?: Session } = {};
    // Made at the first call: by then the handshake (and any authentication) is over.
    let peer: Peer | undefined;
    // A TLS client whose certificate the server refused: GOAWAY instead of HELLO, no call runs.
    const refusal = channel.peer?.certificateError;
    const session: Session = new Session("server", this.#sessionOptions, {
      onCall: (stream, start): StreamHandler => {
        const route = this.#routes.get(start.path);
        if (route === undefined) {
          refuseCall(stream, new ConnectError(`unknown method ${start.path}`, Code.Unimplemented));
          return IGNORED;
        }
        if (refusal !== undefined) {
          refuseCall(stream, new ConnectError(refusal, Code.Unauthenticated));
          return IGNORED;
        }
        const url = base.url + start.path;
        peer ??= peerOf(channel.engine, channel.peer, session.authenticatedKeyId);
        let values: ContextValues;
        try {
          values = this.#options.contextValues?.({ url, header: start.metadata, peer }) ?? createCallValues();
          values.set(peerKey, peer);
        } catch (e) {
          // As a handler's throw: a ConnectError as it is, anything else "internal error".
          refuseCall(stream, e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal, undefined, undefined, e));
          return IGNORED;
        }
        const call: ServerCall = new ServerCall(this.#config, session, stream, start, route, url, values);
        // A unary call may have been answered and settled inside its constructor.
        if (!call.done) this.#calls.add(call);
        return call;
      },
      onAuthFailure: (failure) => this.#onAuthFailure(channel, failure.reason, failure.keyId),
      onClose: () => {
        const s = holder.session;
        if (s === undefined) return;
        this.#sessions.delete(s);
        addChannelStats(this.#pastChannels, s.stats());
      },
    });
    holder.session = session;
    const full = this.#sessions.size >= this.#maxConnections;
    this.#sessions.add(session);
    session.attach(channel);
    if (this.#closing !== undefined) session.goAway(0, "server is shutting down");
    else if (refusal !== undefined) session.goAway(Code.Unauthenticated, refusal);
    else if (full) {
      // After HELLO, so the client reads the reason (GOAWAY is not a handshake answer).
      session.ready.then(
        () => session.goAway(Code.Unavailable, `server connection limit (${this.#maxConnections}) reached`),
        () => undefined,
      );
    }
    return session.events;
  }

  async #close(gracePeriodMs: number): Promise<void> {
    // GOAWAY first, synchronously inside close(): a call a client starts after close()
    // returned its promise is refused, however long the listeners take to close.
    for (const s of this.#sessions) s.goAway(0, "server is shutting down");
    await Promise.all(this.#bound.map((b) => b.listener.close()));
    if (this.#calls.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(this.#calls.values().map((c) => c.settled)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, gracePeriodMs);
        }),
      ]);
      clearTimeout(timer);
    }
    // Calls still running: their signals abort, their clients get Unavailable.
    const reason = new ConnectError("server is shutting down", Code.Unavailable);
    for (const call of this.#calls.values()) call.abort(reason);
    // Let the ENDs the abort produced be queued before the connections close.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const s of [...this.#sessions]) s.close();
    for (const b of this.#bound) if (b.owned) await b.engine.close();
  }
}
