// createServer(): serves the implementations of a `routes` function (the same function
// users pass to connectNodeAdapter) on channel listeners. Each accepted channel gets a
// server session (src/frame/); each CALL_START becomes a ServerCall that runs the
// implementation directly. close() is graceful: listeners stop, sessions send GOAWAY
// (new calls → Unavailable), calls in flight get a grace period, then their signals
// abort with Unavailable and the connections close. With `auth`, a session takes calls
// only once the client proved a key (src/frame/auth-handshake.ts); failures are counted
// and reported to `onAuthFailure`. The options and the server's surface: server-options.ts.

import { Code, ConnectError } from "@connectrpc/connect";
import type { ContextValues } from "@connectrpc/connect";
import type { Channel, ChannelEngine, ChannelEvents, ChannelStats, ListenOptions, Listener } from "../channel/channel.js";
import type { TlsFailure } from "../channel/tls-failure.js";
import { engineForUrl } from "../channel/engines.js";
import type { AuthFailureReason } from "../frame/auth-handshake.js";
import { FIRST_FRAME_MAX_BYTES } from "../frame/constants.js";
import { LiveSet } from "../frame/live-set.js";
import { Session } from "../frame/session.js";
import type { SessionOptions } from "../frame/session.js";
import type { StreamHandler } from "../frame/stream.js";
import { createCallValues } from "./context-values.js";
import { peerKey, peerOf } from "./peer.js";
import type { Peer } from "./peer.js";
import { bindError } from "./bind-error.js";
import { checkServerOptions } from "./foreign-options.js";
import { resolveMessageLimits } from "./message-limits.js";
import { collectRoutes } from "./routes.js";
import { admittedIds, unixAdmission } from "./unix-admission.js";
import type { Admission } from "./unix-admission.js";
import { warnIfUnprotected } from "./unprotected-warning.js";
import { plaintextAnswer } from "./plaintext-answer.js";
import type { ProtectionOptions } from "./unprotected-warning.js";
import type { Route } from "./routes.js";
import { ServerCall } from "./server-call.js";
import { refuseCall } from "./server-response.js";
import type { ServerCallConfig } from "./server-call.js";
import { checkServerOptionValues, checkServerTls, serverSessionOptions } from "./server-options.js";
import type { AuthFailureInfo, Server, ServerOptions, ServerStats } from "./server-options.js";
import { Counters, addChannelStats, emptyChannelStats } from "./stats.js";

export type { AuthFailureInfo, Server, ServerOptions, ServerRequestInfo, ServerStats } from "./server-options.js";

/** Creates a server for the routes; call listen() to serve them. */
export function createServer(options: ServerOptions): Server {
  checkServerOptions(options);
  return new ConnectRdmaServer(options);
}

/** What `onAuthFailure` is told about a TLS client that closed before its first frame. */
const CLOSED_AFTER_TLS = "the client closed the connection after the TLS handshake, before any frame (as a client that refused the server's certificate does)";

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
  #tlsFailures = 0;
  /** With `tls`: the GOAWAY a plaintext client of a TLS listener is answered with. */
  readonly #plaintextAnswer: Uint8Array | undefined;
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
    this.#sessionOptions = serverSessionOptions(options, readMaxBytes);
    this.#maxConnections = checkServerOptionValues(options);
    this.#admission = unixAdmission(options.unix);
    checkServerTls(options);
    if (options.tls !== undefined) this.#plaintextAnswer = plaintextAnswer();
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
      listener = await engine.listen(url, (channel) => this.#accept(channel, base), this.#listenOptions(url));
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
    return { ...this.#counters.snapshot(this.#sessions.size, channels), authFailures: this.#authFailures, tlsFailures: this.#tlsFailures, refusedPeers: this.#refusedPeers };
  }

  /** What the listener of `url` is told: the bound on the client's HELLO, the socket file's mode, who shm admits, and with `tls` where its failures go. */
  #listenOptions(url: string): ListenOptions {
    const socketMode = this.#options.unix?.mode;
    // shm: admission runs in the engine, before the rendezvous hands over the region.
    const admit = url.startsWith("shm:") ? admittedIds(this.#options.unix) : undefined;
    return {
      firstFrameMaxBytes: FIRST_FRAME_MAX_BYTES,
      ...(socketMode !== undefined ? { socketMode } : {}),
      ...(admit !== undefined ? { admit, onRefused: () => this.#refusedPeers++ } : {}),
      ...(this.#plaintextAnswer !== undefined ? { plaintextAnswer: this.#plaintextAnswer, onTlsFailure: (failure: TlsFailure) => this.#onTlsFailure(failure) } : {}),
    };
  }

  /**
   * A TLS connection its client closed before sending a frame (and that this server did
   * not refuse or shut down): how a client that refused the server's certificate ends when
   * its TLS library checks it once the handshake is done (node:tls does).
   */
  #closedAfterTls(session: Session, refusal: string | undefined): boolean {
    return (
      this.#plaintextAnswer !== undefined &&
      refusal === undefined &&
      this.#closing === undefined &&
      session.stats().framesIn === 0 &&
      session.closeError?.code === "ERR_CONNECTION_CLOSED"
    );
  }

  /** Counts a connection that failed TLS and tells `onAuthFailure`. */
  #onTlsFailure(failure: TlsFailure): void {
    this.#tlsFailures++;
    this.#report({ reason: failure.reason, message: failure.message, peer: peerOf("net", failure.peer, undefined) });
  }

  /** Counts a connection refused by `auth` and tells `onAuthFailure`. */
  #onAuthFailure(channel: Channel, reason: AuthFailureReason, keyId: string | undefined): void {
    this.#authFailures++;
    this.#report({ reason, ...(keyId !== undefined ? { keyId } : {}), peer: peerOf(channel.engine, channel.peer, undefined) });
  }

  /** Tells `onAuthFailure`, whose throws and rejections are dropped. */
  #report(info: AuthFailureInfo): void {
    const callback = this.#options.onAuthFailure;
    if (callback === undefined) return;
    try {
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
      onAuthFailure: (failure) => {
        // Reported once, as the TLS failure it most likely is (onClose below).
        if (failure.reason === "closed" && this.#closedAfterTls(session, refusal)) return;
        this.#onAuthFailure(channel, failure.reason, failure.keyId);
      },
      onClose: () => {
        const s = holder.session;
        if (s === undefined) return;
        if (this.#closedAfterTls(s, refusal)) {
          this.#tlsFailures++;
          this.#report({ reason: "tls-handshake", message: CLOSED_AFTER_TLS, peer: peerOf(channel.engine, channel.peer, undefined) });
        }
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
