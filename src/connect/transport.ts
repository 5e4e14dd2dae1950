// createUringTransport(): a Connect `Transport` over a channel engine. Calls run through
// `runUnaryCall` / `runStreamingCall` from @connectrpc/connect/protocol, so interceptors,
// deadlines (timeoutMs), AbortSignal cancellation, headers/trailers and ConnectError
// semantics are exactly connect-es's; underneath, each call is one stream of a session
// (src/frame/) on one connection, opened lazily and reopened after it drains or drops
// (transport-connection.ts). The options and the transport's surface: transport-options.ts.

import { create } from "@bufbuild/protobuf";
import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ContextValues, StreamRequest, StreamResponse, UnaryRequest, UnaryResponse } from "@connectrpc/connect";
import { getAbortSignalReason, runStreamingCall } from "@connectrpc/connect/protocol";
import { isIP } from "node:net";
import { parseChannelUrl } from "../channel/address.js";
import type { EngineOptions } from "../channel/engines.js";
import { LiveSet } from "../frame/live-set.js";
import type { Session } from "../frame/session.js";
import { CallSignal, withSignal } from "./call-signal.js";
import { createCallValues } from "./context-values.js";
import { ClientCall } from "./client-call.js";
import type { ClientCallConfig } from "./client-call.js";
import { EncodedMessage, encodeMessage } from "./encode.js";
import { checkTransportOptions } from "./foreign-options.js";
import { checkWriteSize, resolveMessageLimits } from "./message-limits.js";
import type { MessageLimits } from "./message-limits.js";
import { HeldSlotsGuard } from "./held-slots.js";
import { YIELD_EVERY_BYTES, nextTurn } from "./next-turn.js";
import { toConnectError } from "./errors.js";
import { applyInterceptors, methodPath } from "./routes.js";
import { Counters } from "./stats.js";
import type { RpcStats } from "./stats.js";
import { TransportConnection } from "./transport-connection.js";
import { checkTransportTls, transportSessionOptions } from "./transport-options.js";
import type { PingOptions, RdmaTransport, RdmaTransportOptions, UringTransport, UringTransportOptions } from "./transport-options.js";

export type { PingOptions, RdmaTransport, RdmaTransportOptions, UringTransport, UringTransportOptions } from "./transport-options.js";

const DEFAULT_PING_TIMEOUT_MS = 10_000;

/** Creates a Connect Transport that carries calls over io_uring/RDMA/memory channels. */
export function createUringTransport(options: UringTransportOptions): UringTransport {
  checkTransportOptions("createUringTransport", options);
  return new ConnectRdmaTransport(options, {}, "createUringTransport");
}

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

class ConnectRdmaTransport implements UringTransport {
  readonly #options: UringTransportOptions;
  /** The URL without a trailing slash: request URLs are this plus the method path. */
  readonly #baseUrl: string;
  readonly #limits: MessageLimits;
  readonly #counters = new Counters();
  readonly #heldSlots = new HeldSlotsGuard(this.#counters);
  readonly #callConfig: ClientCallConfig;
  readonly #calls = new LiveSet<ClientCall<DescMessage>>();
  readonly #connection: TransportConnection;

  constructor(options: UringTransportOptions, engineOptions: Pick<EngineOptions, "localAddress">, factory: string) {
    this.#options = options;
    this.#baseUrl = options.url.replace(/\/$/, "");
    this.#limits = resolveMessageLimits(options);
    checkTransportTls(options);
    this.#connection = new TransportConnection(options, engineOptions, transportSessionOptions(options, this.#limits, factory));
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
   * only if an interceptor reads it (call-signal.ts says why). Without interceptors no
   * user code sees the request, so it gets no `signal` property at all (defining the
   * accessor is a runtime call, ~0.35 µs).
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
    const req = {
      stream: false as const,
      service: method.parent,
      method,
      requestMethod: "POST",
      url: this.#baseUrl + methodPath(method),
      header: new Headers(header),
      contextValues: contextValues ?? createCallValues(),
      message: create(method.input, input),
    };
    const interceptors = this.#options.interceptors;
    let response: Promise<UnaryResponse<I, O>>;
    if (interceptors === undefined || interceptors.length === 0) {
      response = this.#unary(req as UnaryRequest<I, O>, call, deadline);
    } else {
      const seen: UnaryRequest<I, O> = withSignal(req, call);
      const next = applyInterceptors<UnaryRequest<I, O>, Promise<UnaryResponse<I, O>>>(
        (r) => this.#unary(r, r === seen ? call : call.follow(r.signal), deadline),
        interceptors,
      );
      response = next(seen);
    }
    return response.then(
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
    if (this.#connection.closed) return;
    const reason = new ConnectError("transport closed", Code.Canceled);
    for (const call of this.#calls.values()) call.cancel(reason);
    await this.#connection.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  stats(): RpcStats {
    return this.#counters.snapshot(this.#connection.sessionCount, this.#connection.channelStats());
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
      const session = await this.#connection.connected(controller.signal);
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
    this.#heldSlots.check(this.#connection.engine);
    let payload = this.#encode(req.method.input, req.message);
    const usable = this.#connection.usable();
    // `req` has no `signal` when no interceptor saw it: the call's own (made now) aborts with it.
    const session = usable ?? (await this.#connection.acquire(signal.signal));
    // The session has a slot reserved for this call: the call owns it from here on.
    const call = this.#newCall(session, req.method.output, "unary");
    signal.onAbort = (reason) => call.cancel(reason);
    try {
      if (signal.aborted) throw signal.reason;
      // Measured again after a wait for a connection: the message may have changed meanwhile.
      if (usable === undefined) payload = this.#encode(req.method.input, req.message);
      this.#checkSendSize(payload.byteLength, session);
      this.#settle(call, call.open(methodPath(req.method), req.header, remaining(deadline), payload, true));
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
    this.#heldSlots.check(this.#connection.engine);
    const session = await this.#connection.acquire(req.signal);
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
}

function remaining(deadline: number | undefined): number | undefined {
  if (deadline === undefined) return undefined;
  return Math.max(1, Math.ceil(deadline - performance.now()));
}
