// The server side of one call: decodes request messages in place (policy in decode.ts),
// runs the user's implementation directly — unary calls through invokeUnary
// (handler-context.ts: connect-es's invokeUnaryImplementation with ctx.signal made on
// first read), streams through connect-es's transformInvokeImplementation (exact-version
// pinned) — so that server interceptors and HandlerContext behave as in connect-node,
// and writes the response: headers with the first message, END with status and trailers.
// A unary call with no interceptors or gate whose request came with CALL_START skips
// invokeUnary (#start): a handler that returns its response is answered in the same
// turn, without an async frame or a microtask; one that returns a promise, after it.
//
// The exchange for one call (docs/PROTOCOL.md §4):
//   1. CALL_START arrives (path, headers, timeout, maybe the only request + half-close)
//   2. unknown path → END Unimplemented; else a HandlerContext (deadline, cancel, shutdown)
//   3. requests flow in as MESSAGE, END half-closes; credit is granted as they're consumed
//   4. responses: HEADERS(+first message), MESSAGE…, END(status, trailers) — or, unary,
//      one END carrying headers, message and trailers
//   5. CANCEL from the client, the deadline or shutdown abort ctx.signal; the call ends
//      at once (END with the reason's code) and the handler's output is discarded
//   6. under "alias", held request frames are released when the handler has settled
//   7. the stream's slot under max_concurrent_streams is released when the handler has
//      settled, not when the stream ended (a CANCEL does not free it: "rapid reset")

import { create } from "@bufbuild/protobuf";
import type { BinaryReadOptions, BinaryWriteOptions, DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ContextValues, HandlerContext, Interceptor } from "@connectrpc/connect";
import { mergeNonProtocolHeaders } from "@connectrpc/connect/protocol";
import type { Lease } from "../channel/channel.js";
import { FrameKind } from "../frame/constants.js";
import type { Frame } from "../frame/frames.js";
import type { LiveMember } from "../frame/live-set.js";
import { prepareMetadata } from "../frame/metadata.js";
import type { PreparedMetadata } from "../frame/metadata.js";
import type { Payload } from "../frame/payload.js";
import type { StreamResetError } from "../frame/protocol-error.js";
import type { Session } from "../frame/session.js";
import type { Stream, StreamFrame, StreamHandler } from "../frame/stream.js";
import { CallSignal } from "./call-signal.js";
import { decodeMessage, decodeQueued } from "./decode.js";
import { encodeMessage } from "./encode.js";
import type { BytesPolicy, Decoded } from "./decode.js";
import { errorFromStatus, statusFromError, toConnectError } from "./errors.js";
import { createCallContext, invokeStreaming, invokeUnary, responseHeaderOf, responseTrailerOf } from "./handler-context.js";
import { checkWriteSize, readLimitError } from "./message-limits.js";
import { MessageQueue } from "./message-queue.js";
import { YIELD_EVERY_BYTES, nextTurn } from "./next-turn.js";
import type { QueueHooks } from "./message-queue.js";
import { clampTimeout } from "./server-options.js";
import { OK, asConnectError, endBytes, responseMetadata, sendEndInParts } from "./server-response.js";
import type { Route } from "./routes.js";
import type { Counters } from "./stats.js";

/** What every call of a server shares. */
export interface ServerCallConfig {
  policy: BytesPolicy;
  counters: Counters;
  /** Largest request message accepted. */
  readMaxBytes: number;
  /** Largest response message sent (the client's announced readMaxBytes bounds it too). */
  writeMaxBytes: number;
  readOptions: Partial<BinaryReadOptions> | undefined;
  writeOptions: Partial<BinaryWriteOptions> | undefined;
  interceptors: Interceptor[];
  /** Longest deadline a call gets (a client asking for more, or none, gets this); undefined: none. */
  maxTimeoutMs: number | undefined;
  /** The call settled (handler done, resources released). */
  onSettled(call: ServerCall): void;
}
type CallStart = Extract<Frame, { kind: typeof FrameKind.CALL_START }>;

/** `settled` of a call that settled before its constructor returned. */
const SETTLED: Promise<void> = Promise.resolve();

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/** One call on the server. */
export class ServerCall implements StreamHandler, QueueHooks<MessageShape<DescMessage>>, LiveMember {
  /** @internal Its index in the server's calls in flight (LiveSet). */
  liveIndex = -1;
  readonly #config: ServerCallConfig;
  readonly #session: Session;
  readonly #stream: Stream;
  readonly #route: Route;
  readonly #context: HandlerContext;
  /** ctx.signal's state: deadline, CANCEL, connection loss, shutdown, completion. */
  readonly #signal: CallSignal;
  readonly #input: MessageQueue<MessageShape<DescMessage>>;
  /** Request frames held by "alias"-decoded messages, released when the handler settled. */
  #held: Lease[] | undefined;
  #headersSent = false;
  #finished = false;
  /** #settle() ran. */
  #done = false;
  /** Settles when the handler settled and the call's resources are released. */
  readonly settled: Promise<void>;

  constructor(
    config: ServerCallConfig,
    session: Session,
    stream: Stream,
    start: CallStart,
    route: Route,
    url: string,
    values: ContextValues | undefined,
  ) {
    this.#config = config;
    this.#session = session;
    this.#stream = stream;
    this.#route = route;
    // The stream's slot stays in use until the handler settled, even after a CANCEL.
    session.retainSlot(stream);
    const timeoutMs = clampTimeout(start.timeoutMs, config.maxTimeoutMs);
    this.#signal = new CallSignal(undefined, timeoutMs);
    this.#context = createCallContext({ method: route.spec.method, url, timeoutMs, requestHeader: start.metadata, signal: this.#signal, values });
    this.#input = new MessageQueue(this);
    config.counters.callsStarted++;
    config.counters.callsActive++;
    if (start.message !== undefined) this.#onMessage(start.message);
    if (start.endStream) this.#input.end();
    if (this.#signal.aborted) this.#onAbort(this.#signal.reason);
    else this.#signal.onAbort = (reason) => this.#onAbort(reason);
    this.settled = this.#start();
  }

  /** @internal True once the handler settled and the call's resources were released. */
  get done(): boolean {
    return this.#done;
  }

  /** @internal A request message was handed to the handler (QueueHooks). */
  onTake(size: number, lease: Lease | undefined): void {
    this.#stream.consumed(size);
    if (lease !== undefined) (this.#held ??= []).push(lease);
  }

  /** @internal A request that waited undecoded is taken (QueueHooks): decoded now. */
  decodeQueued(bytes: Uint8Array, held: Lease | undefined): Decoded<MessageShape<DescMessage>> {
    const { counters, readOptions } = this.#config;
    try {
      return decodeQueued(this.#route.spec.method.input, bytes, held, counters, readOptions);
    } catch (e) {
      const error = toConnectError(e, Code.Internal);
      this.#failEarly(error);
      throw error;
    }
  }

  /** Aborts ctx.signal with `reason` (server shutdown); the call ends with its code. */
  abort(reason: ConnectError): void {
    this.#signal.abort(reason);
  }

  onFrame(frame: StreamFrame): void {
    switch (frame.kind) {
      case FrameKind.MESSAGE:
        this.#onMessage(frame.message);
        if (frame.endStream) this.#input.end();
        return;
      case FrameKind.END:
        this.#input.end();
        return;
      case FrameKind.CANCEL:
        this.#signal.abort(errorFromStatus({ code: frame.code, message: frame.reason, details: [] }, new Headers()));
        return;
      default:
        return;
    }
  }

  onReset(error: StreamResetError): void {
    this.#signal.abort(toConnectError(error));
  }

  #onMessage(view: Uint8Array): void {
    if (this.#finished) return;
    const size = view.byteLength;
    const { counters, readMaxBytes, policy, readOptions } = this.#config;
    if (size > readMaxBytes) {
      this.#failEarly(readLimitError(size, readMaxBytes));
      return;
    }
    counters.received(size);
    if (this.#input.wantsBytes) {
      this.#input.pushBytes(view, policy === "alias" ? this.#stream.hold() : undefined);
      return;
    }
    try {
      const schema = this.#route.spec.method.input;
      const decoded = decodeMessage(schema, view, policy, this.#stream, counters, readOptions);
      this.#input.push(decoded.message, size, decoded.lease);
    } catch (e) {
      this.#failEarly(toConnectError(e, Code.Internal));
    }
  }

  /** Ends the call now (the handler keeps running until it notices its signal). */
  #failEarly(error: ConnectError): void {
    if (this.#finished) return;
    this.#sendError(error);
    this.#signal.abort(error);
  }

  /** ctx.signal aborted: deadline, CANCEL, connection loss, or server shutdown. */
  #onAbort(reason: unknown): void {
    const error = ConnectError.from(reason, Code.Canceled);
    this.#input.fail(error, true);
    if (!this.#finished) this.#sendError(error);
  }

  /**
   * Runs the handler. A unary call whose request came with CALL_START, with no gate and
   * no interceptors, and whose handler returns its response (not a promise) is answered
   * and settled before this returns: no async frame, no promise, no microtask. Anything
   * else continues in #run.
   */
  #start(): Promise<void> {
    const { spec, options } = this.#route;
    if (spec.kind !== "unary" || options?.requestGate !== undefined || (options?.interceptors ?? this.#config.interceptors).length > 0) {
      return this.#run();
    }
    const input = this.#input.takeSole();
    if (input === undefined) return this.#run();
    try {
      const result: unknown = spec.impl(input, this.#context);
      if (isThenable(result)) return this.#finishUnary(result);
      const sent = this.#answerUnary(create(spec.method.output, result as MessageInitShape<DescMessage>));
      // The END waits for region space: the call holds its slot until it was handed over.
      if (sent !== undefined) return sent.then(() => this.#settle());
    } catch (e) {
      if (!this.#finished) this.#sendError(asConnectError(e));
    }
    this.#settle();
    return SETTLED;
  }

  /** The unary handler returned a promise: its response is sent once it resolves. */
  async #finishUnary(result: PromiseLike<unknown>): Promise<void> {
    try {
      const output = create(this.#route.spec.method.output, (await result) as MessageInitShape<DescMessage>);
      await this.#answerUnary(output);
    } catch (e) {
      if (!this.#finished) this.#sendError(asConnectError(e));
    } finally {
      this.#settle();
    }
  }

  /** Encodes and sends a unary response (unless the call already ended); throws what fails before the send. */
  #answerUnary(output: MessageShape<DescMessage>): Promise<void> | undefined {
    if (this.#finished) return undefined;
    return this.#sendEnd(this.#encode(output));
  }

  async #run(): Promise<void> {
    const { spec, options } = this.#route;
    const interceptors = options?.interceptors ?? this.#config.interceptors;
    const context = this.#context;
    let it: AsyncIterator<unknown> | undefined;
    try {
      const gate = options?.requestGate;
      if (gate !== undefined) await gate(context);
      if (spec.kind === "unary") {
        const input = this.#input.takeSole() ?? (await this.#single("unary"));
        await this.#answerUnary(await invokeUnary(spec, context, this.#signal, input, interceptors));
      } else {
        it = await invokeStreaming(spec, context, this.#input, () => this.#input.takeSole() ?? this.#single("server-streaming"), interceptors);
        const output = spec.method.output;
        let sinceYield = 0;
        for (;;) {
          const r = await it.next();
          if (r.done === true) break;
          if (this.#finished) {
            // Cancelled, deadline, or shut down while the handler produced this message:
            // finish the handler's iterator so its `finally` blocks run.
            void it.return?.()?.catch(() => undefined);
            break;
          }
          const payload = this.#encode(create(output, r.value as MessageInitShape<DescMessage>));
          if (!this.#headersSent) {
            const headers = responseMetadata(this.#session, responseHeaderOf(context), "response headers");
            this.#headersSent = true;
            await this.#stream.sendHeaders(headers, payload);
          } else {
            // Usually handed to the channel at once (undefined): no await, no microtask.
            const sent = this.#stream.sendMessage(payload);
            if (sent !== undefined) await sent;
          }
          this.#config.counters.sent(payload.byteLength);
          if (this.#finished) {
            void it.return?.()?.catch(() => undefined);
            break;
          }
          sinceYield += payload.byteLength;
          if (sinceYield >= YIELD_EVERY_BYTES) {
            sinceYield = 0;
            await nextTurn();
          }
        }
        if (!this.#finished) await this.#sendEnd(undefined);
      }
    } catch (e) {
      if (!this.#finished) this.#sendError(asConnectError(e));
      // A response that could not be sent (over a limit, connection gone) leaves the
      // handler's generator suspended at its yield: finish it so its `finally` blocks run.
      void it?.return?.()?.catch(() => undefined);
    } finally {
      this.#settle();
    }
  }

  /** The handler settled: releases what the call holds (once). */
  #settle(): void {
    if (this.#done) return;
    this.#done = true;
    this.#finished = true;
    this.#signal.finish();
    this.#input.fail(undefined, true);
    if (this.#held !== undefined) for (const lease of this.#held) lease.release();
    this.#held = undefined;
    this.#config.counters.callsActive--;
    this.#session.releaseSlot(this.#stream);
    this.#config.onSettled(this);
  }

  /** The single request of a unary or server-streaming call (connect-es's messages and codes). */
  async #single(kind: "unary" | "server-streaming"): Promise<MessageShape<DescMessage>> {
    const first = await this.#input.next();
    if (first.done === true) {
      throw new ConnectError(`protocol error: missing input message for ${kind} method`, Code.Unimplemented);
    }
    const second = await this.#input.next();
    if (second.done !== true) {
      throw new ConnectError(`protocol error: received extra input message for ${kind} method`, Code.Unimplemented);
    }
    return first.value;
  }

  #encode(message: MessageShape<DescMessage>): Payload {
    const payload = encodeMessage(this.#route.spec.method.output, message, this.#config.writeOptions, this.#config.counters);
    checkWriteSize(payload.byteLength, this.#config.writeMaxBytes, this.#session.peer?.maxMessageBytes);
    return payload;
  }

  /**
   * Sends the response's END (with headers and `payload` when they fit one frame).
   * Returns undefined when it was handed to the channel at once, else a promise that
   * settles when it was (it never rejects: a failed send abandons the stream). Throws
   * when the response metadata exceed the client's limit.
   */
  #sendEnd(payload: Payload | undefined): Promise<void> | undefined {
    const context = this.#context;
    const headers = this.#headersSent ? undefined : responseMetadata(this.#session, responseHeaderOf(context), "response headers");
    const trailers = responseMetadata(this.#session, responseTrailerOf(context), "response trailers");
    this.#finished = true;
    this.#headersSent = true;
    if (payload !== undefined) this.#config.counters.sent(payload.byteLength);
    const maxFrame = this.#session.channel?.maxFrameBytes ?? Infinity;
    if (payload !== undefined && endBytes(headers, payload, trailers) > maxFrame) {
      return sendEndInParts(this.#stream, headers, payload, trailers, (e) => this.#abandon(e));
    }
    try {
      return this.#stream.sendEnd({ headers, message: payload, status: OK, trailers })?.catch((e: unknown) => this.#abandon(e));
    } catch (e) {
      this.#abandon(e);
      return undefined;
    }
  }


  #sendError(error: ConnectError): void {
    const context = this.#context;
    this.#finished = true;
    const trailers = new Headers(responseTrailerOf(context));
    if (!error.isWireError) mergeNonProtocolHeaders(trailers, error.metadata);
    let headers: PreparedMetadata | undefined;
    let trailerBlock: PreparedMetadata;
    try {
      headers = this.#headersSent ? undefined : responseMetadata(this.#session, responseHeaderOf(context), "response headers");
      trailerBlock = responseMetadata(this.#session, trailers, "response trailers");
    } catch (e) {
      error = asConnectError(e);
      headers = this.#headersSent ? undefined : prepareMetadata(undefined);
      trailerBlock = prepareMetadata(undefined);
    }
    this.#headersSent = true;
    this.#stream
      .sendEnd({ headers, message: undefined, status: statusFromError(error), trailers: trailerBlock })
      ?.catch((e: unknown) => this.#abandon(e));
  }

  /** The END could not be sent (region full for too long, connection gone): give up the stream. */
  #abandon(e: unknown): void {
    const error = toConnectError(e);
    this.#stream.cancel(error.code, error.rawMessage);
    this.#signal.abort(error);
  }
}
