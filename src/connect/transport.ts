// createUringTransport(): a Connect `Transport` over a channel engine. Calls run through
// `runUnaryCall` / `runStreamingCall` from @connectrpc/connect/protocol, so interceptors,
// deadlines (timeoutMs), AbortSignal cancellation, headers/trailers and ConnectError
// semantics are exactly connect-es's; underneath, each call is one stream of a session
// (src/frame/) on one connection, opened lazily and reopened after it drains or drops.

import { create } from "@bufbuild/protobuf";
import type { BinaryReadOptions, BinaryWriteOptions, DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ContextValues, Interceptor, StreamRequest, StreamResponse, Transport, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import { getAbortSignalReason, runStreamingCall } from "@connectrpc/connect/protocol";
import { isIP } from "node:net";
import { parseChannelUrl } from "../channel/address.js";
import type { ChannelEngine, ChannelStats } from "../channel/channel.js";
import { checkTlsEngine, engineForUrl } from "../channel/engines.js";
import { clientTlsOptions, type ClientTlsOptions } from "../channel/tls-options.js";
import type { EngineOptions } from "../channel/engines.js";
import { checkClientAuth } from "../frame/auth.js";
import type { ClientAuth } from "../frame/auth.js";
import { LiveSet } from "../frame/live-set.js";
import { StreamResetError } from "../frame/protocol-error.js";
import { Session } from "../frame/session.js";
import type { SessionOptions } from "../frame/session.js";
import { CallSignal, withSignal } from "./call-signal.js";
import { createCallValues } from "./context-values.js";
import { ClientCall } from "./client-call.js";
import type { ClientCallConfig } from "./client-call.js";
import { EncodedMessage, encodeMessage } from "./encode.js";
import { requestHeaderOf, withRequestHeader } from "./lazy-header.js";
import { checkTransportOptions } from "./foreign-options.js";
import { checkWriteSize, resolveMessageLimits } from "./message-limits.js";
import type { MessageLimitOptions, MessageLimits } from "./message-limits.js";
import { HeldSlotsGuard } from "./held-slots.js";
import { YIELD_EVERY_BYTES, nextTurn } from "./next-turn.js";
import type { BytesPolicy } from "./decode.js";
import { toConnectError } from "./errors.js";
import { refusedByTlsPeer } from "./tls-refusal.js";
import { applyInterceptors, methodPath } from "./routes.js";
import { Counters, addChannelStats, emptyChannelStats } from "./stats.js";
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

const DEFAULT_PING_TIMEOUT_MS = 10_000;

/** Creates a Connect Transport that carries calls over io_uring/RDMA/memory channels. */
export function createUringTransport(options: UringTransportOptions): UringTransport {
  checkTransportOptions("createUringTransport", options);
  return new ConnectRdmaTransport(options, {}, "createUringTransport");
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

/**
 * Creates a Connect Transport that carries calls over RDMA (RC queue pairs through
 * rdma_cm) to a {@link createServer} server listening on an `rdma://ip:port` URL.
 * Semantics are those of {@link createUringTransport}. Throws TypeError for a URL that
 * is not `rdma://` or a `localAddress` that is not an IP address; where RDMA is
 * unavailable, calls fail with `Code.Unavailable` naming the reason.
 *
 * @example
 * ```ts
 * const transport = createRdmaTransport({ url: "rdma://10.0.0.2:7000", localAddress: "10.0.0.1" });
 * const client = createClient(MarketService, transport);
 * ```
 */
export function createRdmaTransport(options: RdmaTransportOptions): RdmaTransport {
  checkTransportOptions("createRdmaTransport", options);
  const scheme = parseChannelUrl(options.url).scheme;
  if (scheme !== "rdma") throw new TypeError(`createRdmaTransport() needs an rdma://ip:port URL, got ${scheme}:// ("${options.url}")`);
  const { localAddress } = options;
  if (localAddress !== undefined && isIP(localAddress) === 0) {
    throw new TypeError(`localAddress must be an IPv4 or IPv6 address, got "${localAddress}"`);
  }
  return new ConnectRdmaTransport(options, localAddress !== undefined ? { localAddress } : {}, "createRdmaTransport");
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(getAbortSignalReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(getAbortSignalReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

class ConnectRdmaTransport implements UringTransport {
  readonly #options: UringTransportOptions;
  /** Engine options beyond the common ones (rdma://: the source address). */
  readonly #engineOptions: Pick<EngineOptions, "localAddress">;
  readonly #url: string;
  /** The URL without a trailing slash: request URLs are this plus the method path. */
  readonly #baseUrl: string;
  readonly #limits: MessageLimits;
  readonly #sessionOptions: SessionOptions;
  readonly #counters = new Counters();
  readonly #heldSlots = new HeldSlotsGuard(this.#counters);
  readonly #callConfig: ClientCallConfig;
  readonly #calls = new LiveSet<ClientCall<DescMessage>>();
  readonly #sessions = new Set<Session>();
  readonly #pastChannels: ChannelStats = emptyChannelStats();
  #engine: ChannelEngine | undefined;
  #ownsEngine = false;
  #session: Session | undefined;
  #connecting: Promise<Session> | undefined;
  #closed = false;

  constructor(options: UringTransportOptions, engineOptions: Pick<EngineOptions, "localAddress">, factory: string) {
    this.#options = options;
    this.#engineOptions = engineOptions;
    this.#url = options.url;
    this.#baseUrl = options.url.replace(/\/$/, "");
    this.#limits = resolveMessageLimits(options);
    if (options.tls !== undefined) {
      clientTlsOptions("createUringTransport", options.tls);
      if (parseChannelUrl(options.url).scheme !== "tcp") throw new TypeError(`createUringTransport: tls applies to tcp:// URLs only, not ${options.url}`);
      if (options.engine !== undefined) checkTlsEngine("createUringTransport", options.engine);
    }
    this.#sessionOptions = {
      maxMessageBytes: this.#limits.readMaxBytes,
      ...(options.maxHeaderBytes !== undefined ? { maxHeaderBytes: options.maxHeaderBytes } : {}),
      ...(options.initialWindowBytes !== undefined ? { initialWindowBytes: options.initialWindowBytes } : {}),
      ...(options.connectTimeoutMs !== undefined ? { handshakeTimeoutMs: options.connectTimeoutMs } : {}),
      ...(options.sendTimeoutMs !== undefined ? { sendTimeoutMs: options.sendTimeoutMs } : {}),
      ...(options.keepaliveMs !== undefined ? { keepaliveMs: options.keepaliveMs } : {}),
      ...(options.keepaliveTimeoutMs !== undefined ? { keepaliveTimeoutMs: options.keepaliveTimeoutMs } : {}),
      ...(options.auth !== undefined ? { clientAuth: checkClientAuth(options.auth, factory) } : {}),
    };
    this.#callConfig = {
      policy: options.bytes ?? "copy",
      counters: this.#counters,
      readMaxBytes: this.#limits.readMaxBytes,
      readOptions: options.binaryOptions,
      calls: this.#calls,
    };
  }

  /**
   * runUnaryCall of connect-es (interceptors, deadline, cancellation, the error a call
   * fails with, the signal aborted on completion), with the call's AbortSignal made
   * only if an interceptor reads it (call-signal.ts says why).
   */
  unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues?: ContextValues,
  ): Promise<UnaryResponse<I, O>> {
    const timeout = this.#timeout(timeoutMs);
    const deadline = timeout === undefined ? undefined : performance.now() + timeout;
    const call = new CallSignal(signal, timeout);
    const req: UnaryRequest<I, O> = withSignal(
      withRequestHeader(
        {
          stream: false as const,
          service: method.parent,
          method,
          requestMethod: "POST",
          url: this.#baseUrl + methodPath(method),
          contextValues: contextValues ?? createCallValues(),
          message: create(method.input, input),
        },
        header,
      ),
      call,
    );
    const next = applyInterceptors<UnaryRequest<I, O>, Promise<UnaryResponse<I, O>>>(
      (r) => this.#unary(r, r === req ? call : call.follow(r.signal), deadline),
      this.#options.interceptors,
    );
    return next(req).then(
      (res) => {
        call.finish();
        return res;
      },
      (e: unknown) => Promise.reject(call.fail(e)),
    );
  }

  stream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues?: ContextValues,
  ): Promise<StreamResponse<I, O>> {
    const timeout = this.#timeout(timeoutMs);
    const deadline = timeout === undefined ? undefined : performance.now() + timeout;
    let response: Promise<StreamResponse<I, O>>;
    try {
      response = this.#runStreaming(method, signal, timeout, deadline, header, input, contextValues);
    } catch (e) {
      // An interceptor that throws instead of returning a rejected promise.
      response = Promise.reject(ConnectError.from(e));
    }
    // connect-es's clients attach to this promise at the first read of the responses, and
    // a half-duplex caller sends first: a call that failed before then must not count as
    // an unhandled rejection. The caller still gets the error from this same promise.
    response.catch(() => undefined);
    return response;
  }

  #runStreaming<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeout: number | undefined,
    deadline: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues: ContextValues | undefined,
  ): Promise<StreamResponse<I, O>> {
    return runStreamingCall<I, O>({
      interceptors: this.#options.interceptors,
      signal,
      timeoutMs: timeout,
      req: {
        stream: true,
        service: method.parent,
        method,
        requestMethod: "POST",
        url: this.#baseUrl + methodPath(method),
        header: new Headers(header),
        contextValues: contextValues ?? createCallValues(),
        message: input,
      },
      next: (req) => this.#stream(req, deadline),
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const reason = new ConnectError("transport closed", Code.Canceled);
    for (const call of this.#calls.values()) call.cancel(reason);
    for (const session of [...this.#sessions]) session.close();
    if (this.#ownsEngine) await this.#engine?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  stats(): RpcStats {
    const channels = { ...this.#pastChannels };
    for (const s of this.#sessions) addChannelStats(channels, s.stats());
    return this.#counters.snapshot(this.#sessions.size, channels);
  }

  async ping(options: PingOptions = {}): Promise<number> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    const outer = options.signal;
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(ConnectError.from(outer?.reason, Code.Canceled));
    if (outer?.aborted === true) onAbort();
    else outer?.addEventListener("abort", onAbort, { once: true });
    const timer =
      timeoutMs > 0
        ? setTimeout(() => controller.abort(new ConnectError(`ping: no PONG within ${timeoutMs} ms`, Code.DeadlineExceeded)), timeoutMs)
        : undefined;
    try {
      const session = await this.#connected(controller.signal);
      return await session.ping(controller.signal);
    } catch (e) {
      throw toConnectError(e);
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onAbort);
    }
  }

  /** timeoutMs as connect-es transports normalize it. */
  #timeout(timeoutMs: number | undefined): number | undefined {
    const t = timeoutMs ?? this.#options.defaultTimeoutMs;
    return t === undefined || t <= 0 ? undefined : t;
  }

  async #unary<I extends DescMessage, O extends DescMessage>(
    req: UnaryRequest<I, O>,
    signal: CallSignal,
    deadline: number | undefined,
  ): Promise<UnaryResponse<I, O>> {
    if (signal.aborted) throw signal.reason;
    this.#heldSlots.check(this.#engine);
    let payload = this.#encode(req.method.input, req.message);
    const usable = this.#usableSession();
    const session = usable ?? (await this.#acquire(req.signal));
    // The session has a slot reserved for this call: the call owns it from here on.
    const call = this.#newCall(session, req.method.output, "unary");
    signal.onAbort = (reason) => call.cancel(reason);
    try {
      if (signal.aborted) throw signal.reason;
      // Measured again after a wait for a connection: the message may have changed meanwhile.
      if (usable === undefined) payload = this.#encode(req.method.input, req.message);
      this.#checkSendSize(payload.byteLength, session);
      this.#settle(call, call.open(methodPath(req.method), requestHeaderOf(req), remaining(deadline), payload, true));
      this.#counters.sent(payload.byteLength);
      const res = await call.unaryResult();
      return { stream: false, service: req.service, method: req.method, header: res.header, message: res.message, trailer: res.trailer };
    } catch (e) {
      const error = toConnectError(e);
      call.cancel(error);
      throw error;
    } finally {
      signal.onAbort = undefined;
    }
  }

  async #stream<I extends DescMessage, O extends DescMessage>(req: StreamRequest<I, O>, deadline: number | undefined): Promise<StreamResponse<I, O>> {
    this.#heldSlots.check(this.#engine);
    const session = await this.#acquire(req.signal);
    const call = this.#newCall(session, req.method.output, "stream");
    // The abort listener stays for the life of the call: runStreamingCall aborts the
    // signal when the call completes, and cancel() is a no-op on a finished call.
    req.signal.addEventListener("abort", () => call.cancel(getAbortSignalReason(req.signal)));
    if (req.signal.aborted) call.cancel(getAbortSignalReason(req.signal));
    const path = methodPath(req.method);
    try {
      if (req.method.methodKind === "server_streaming") {
        // Exactly one request: CALL_START carries it and the half-close, one frame.
        const payloads: EncodedMessage[] = [];
        for await (const m of req.message) {
          const p = this.#encode(req.method.input, m);
          this.#checkSendSize(p.byteLength, session);
          payloads.push(p);
        }
        const first = payloads.length === 1 ? payloads[0] : undefined;
        this.#settle(call, call.open(path, req.header, remaining(deadline), first, first !== undefined));
        if (first !== undefined) this.#counters.sent(first.byteLength);
        else void this.#pump(call, session, payloads, req.method.input);
      } else {
        this.#settle(call, call.open(path, req.header, remaining(deadline), undefined, false));
        void this.#pump(call, session, req.message, req.method.input);
      }
      const header = await call.header;
      return { ...req, header, trailer: call.trailer, message: call.responses() };
    } catch (e) {
      const error = toConnectError(e);
      call.cancel(error);
      throw error;
    }
  }

  /** A send that waits for region space fails the call if it fails. */
  #settle(call: ClientCall<DescMessage>, sent: Promise<void> | undefined): void {
    sent?.catch((e: unknown) => call.cancel(toConnectError(e)));
  }

  /** Sends the request messages of a streaming call, then half-closes. */
  async #pump<I extends DescMessage>(
    call: ClientCall<DescMessage>,
    session: Session,
    input: AsyncIterable<MessageInitShape<I>> | Iterable<EncodedMessage>,
    schema: I,
  ): Promise<void> {
    try {
      let sinceYield = 0;
      for await (const m of input) {
        if (call.done) return;
        const payload = m instanceof EncodedMessage ? m : this.#encode(schema, m as never);
        this.#checkSendSize(payload.byteLength, session);
        const sent = call.send(payload);
        this.#counters.sent(payload.byteLength);
        if (sent !== undefined) await sent;
        sinceYield += payload.byteLength;
        if (sinceYield >= YIELD_EVERY_BYTES) {
          sinceYield = 0;
          await nextTurn();
        }
      }
      if (!call.done) await call.halfClose();
    } catch (e) {
      call.cancel(toConnectError(e, Code.Unknown));
    }
  }

  #newCall<O extends DescMessage>(session: Session, output: O, kind: "unary" | "stream"): ClientCall<O> {
    return new ClientCall(this.#callConfig, session, output, kind);
  }

  /** A request message as a payload (in place when the encoder covers it). */
  #encode<I extends DescMessage>(schema: I, message: MessageShape<I>): EncodedMessage {
    return encodeMessage(schema, message, this.#options.binaryOptions, this.#counters);
  }

  #checkSendSize(byteLength: number, session: Session): void {
    checkWriteSize(byteLength, this.#limits.writeMaxBytes, session.peer?.maxMessageBytes);
  }

  /** The current session with a stream slot reserved for the caller, if one is free right now. */
  #usableSession(): Session | undefined {
    const session = this.#session;
    if (this.#closed || session === undefined || !session.tryReserveSlot()) return undefined;
    return session;
  }

  /**
   * The current session, connecting if needed, with a stream slot reserved for the
   * caller (taken when its stream opens, given back if the call ends first). Calls
   * above the server's max_concurrent_streams wait in FIFO order; a waiting call whose
   * signal aborts (deadline, cancel) leaves the queue.
   */
  async #acquire(signal: AbortSignal): Promise<Session> {
    for (;;) {
      const session = await this.#connected(signal);
      if (session.tryReserveSlot() || (await session.reserveSlot(signal))) return session;
      // No slot: aborted (thrown by #connected next), or the session drains: go again.
    }
  }

  /** The current session, connecting if needed (no slot reserved). */
  async #connected(signal: AbortSignal): Promise<Session> {
    if (this.#closed) throw new ConnectError("transport closed", Code.Unavailable);
    if (signal.aborted) throw getAbortSignalReason(signal);
    const session = this.#session;
    if (session !== undefined && !session.draining) return session;
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return raceSignal(this.#connecting, signal);
  }

  async #connect(): Promise<Session> {
    let engine = this.#engine;
    if (engine === undefined) {
      const choice = this.#options.engine;
      if (typeof choice === "object") {
        engine = choice;
      } else {
        try {
          engine = engineForUrl(this.#url, {
            ...this.#engineOptions,
            poll: this.#options.poll ?? "event",
            engine: choice ?? "auto",
            ...(this.#options.tls !== undefined ? { tls: { client: this.#options.tls } } : {}),
          });
        } catch (e) {
          throw new ConnectError(`no engine for ${this.#url}: ${(e as Error).message}`, Code.Unavailable, undefined, undefined, e);
        }
        this.#ownsEngine = true;
      }
      this.#engine = engine;
    }
    const holder: { session?: Session } = {};
    let session: Session;
    try {
      session = await Session.connect(engine, this.#url, this.#sessionOptions, {
        onClose: () => {
          const s = holder.session;
          if (s === undefined) return;
          this.#sessions.delete(s);
          addChannelStats(this.#pastChannels, s.stats());
          if (this.#session === s) this.#session = undefined;
        },
      });
    } catch (e) {
      throw new ConnectError(
        `cannot connect to ${this.#url}: ${e instanceof Error ? e.message : String(e)}`,
        // A server that refused the handshake (GOAWAY instead of HELLO) gave its code; one
        // that refused our TLS certificate, Unauthenticated (tls-refusal.ts).
        e instanceof StreamResetError && e.code === "ERR_HANDSHAKE" ? toConnectError(e).code : refusedByTlsPeer(e) ? Code.Unauthenticated : Code.Unavailable,
        undefined,
        undefined,
        e,
      );
    }
    holder.session = session;
    if (session.closed) {
      const reason = session.closeError;
      throw new ConnectError(
        `connection to ${this.#url} closed during setup${reason ? `: ${reason.message}` : ""}`,
        Code.Unavailable,
        undefined,
        undefined,
        reason,
      );
    }
    if (this.#closed) {
      session.close();
      throw new ConnectError("transport closed", Code.Unavailable);
    }
    this.#sessions.add(session);
    this.#session = session;
    return session;
  }
}

function remaining(deadline: number | undefined): number | undefined {
  if (deadline === undefined) return undefined;
  return Math.max(1, Math.ceil(deadline - performance.now()));
}
