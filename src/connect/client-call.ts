// The client side of one call on a session stream: sends CALL_START / MESSAGE / END,
// receives HEADERS / MESSAGE / END / CANCEL, decodes response messages in place (the
// policy lives in decode.ts) and turns them into what connect-es interceptors and
// clients expect: a header promise, an async iterable of messages, trailers, and
// ConnectErrors with metadata = headers + trailers.

import type { BinaryReadOptions, DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Lease } from "../channel/channel.js";
import { FrameKind } from "../frame/constants.js";
import { callStartBytes } from "../frame/frames.js";
import { utf8Length } from "../frame/wire.js";
import { prepareMetadata } from "../frame/metadata.js";
import type { LiveMember, LiveSet } from "../frame/live-set.js";
import type { Payload } from "../frame/payload.js";
import type { StreamResetError } from "../frame/protocol-error.js";
import type { Session } from "../frame/session.js";
import type { Stream, StreamFrame, StreamHandler } from "../frame/stream.js";
import { decodeMessage, decodeQueued, releaseMessage } from "./decode.js";
import type { BytesPolicy, Decoded } from "./decode.js";
import { errorFromStatus, mergeMetadata, toConnectError } from "./errors.js";
import { readLimitError } from "./message-limits.js";
import { MessageQueue } from "./message-queue.js";
import type { QueueHooks } from "./message-queue.js";
import type { Counters } from "./stats.js";

/** What every call of a transport shares. */
export interface ClientCallConfig {
  policy: BytesPolicy;
  counters: Counters;
  /** Largest message this client accepts. */
  readMaxBytes: number;
  readOptions: Partial<BinaryReadOptions> | undefined;
  /** The transport's calls in flight; a call removes itself when it ends. */
  calls: LiveSet<ClientCall<DescMessage>>;
}

/** The outcome of a unary call. */
export interface UnaryResult<O extends DescMessage> {
  header: Headers;
  message: MessageShape<O>;
  trailer: Headers;
}

/**
 * A promise and its settle functions. A class rather than an object literal, for the
 * same reason as handler-context.ts's CallContext: a literal that lives as long as its
 * call may get pretenured by V8 and then keep the call's young objects alive.
 */
class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/**
 * One call from the client's side. A unary call delivers its one response message
 * through unaryResult() (settled at END); a streaming call through `messages`. Promises
 * and header objects are made only when someone asks for them.
 */
export class ClientCall<O extends DescMessage> implements StreamHandler, QueueHooks<MessageShape<O>>, LiveMember {
  /** @internal Its index in the transport's calls in flight (LiveSet). */
  liveIndex = -1;
  readonly #config: ClientCallConfig;
  readonly #session: Session;
  readonly #output: O;
  readonly #unary: boolean;
  #stream: Stream | undefined;
  #header: Headers | undefined;
  /** Made by the `header` getter while the header is not known yet. */
  #headerWaiter: Deferred<Headers> | undefined;
  #trailer: Headers | undefined;
  /** Streaming calls only. */
  readonly #messages: MessageQueue<MessageShape<O>> | undefined;
  /** Unary: the response message (one is allowed) and who waits for the result. */
  #message: MessageShape<O> | undefined;
  #result: Deferred<UnaryResult<O>> | undefined;
  #lastLease: Lease | undefined;
  #error: ConnectError | undefined;
  #done = false;
  /** The session reserved a stream slot for this call; open() takes it, an early end gives it back. */
  #slotReserved = true;

  /** `session` must have a stream slot reserved for this call (Session.tryReserveSlot/reserveSlot). */
  constructor(config: ClientCallConfig, session: Session, output: O, kind: "unary" | "stream") {
    this.#config = config;
    this.#session = session;
    this.#output = output;
    this.#unary = kind === "unary";
    if (!this.#unary) this.#messages = new MessageQueue<MessageShape<O>>(this);
    config.calls.add(this as unknown as ClientCall<DescMessage>);
  }

  /** Response trailers; filled when END arrives. */
  get trailer(): Headers {
    return (this.#trailer ??= new Headers());
  }

  /** @internal A response message was handed to the application (QueueHooks). */
  onTake(size: number, lease: Lease | undefined): void {
    this.#stream?.consumed(size);
    this.#lastLease = lease;
  }

  /** @internal A response that waited undecoded is taken (QueueHooks): decoded now. */
  decodeQueued(bytes: Uint8Array, held: Lease | undefined): Decoded<MessageShape<O>> {
    const { counters, readOptions } = this.#config;
    try {
      return decodeQueued(this.#output, bytes, held, counters, readOptions);
    } catch (e) {
      const error = toConnectError(e, Code.Internal);
      this.cancel(error);
      throw error;
    }
  }

  /** Streaming calls: the response messages, decoded on arrival (or when taken, past the queue's bound). */
  get messages(): MessageQueue<MessageShape<O>> {
    if (this.#messages === undefined) throw new Error("a unary call has no message stream");
    return this.#messages;
  }

  /** True once the call ended (END, CANCEL, reset or local cancel). */
  get done(): boolean {
    return this.#done;
  }

  /** Resolves with the response headers; rejects if the call fails before any. */
  get header(): Promise<Headers> {
    if (this.#header !== undefined) return Promise.resolve(this.#header);
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return (this.#headerWaiter ??= new Deferred<Headers>()).promise;
  }

  /**
   * Opens the stream and sends CALL_START (with the first message and half-close for
   * unary and server-streaming calls). Throws ConnectError on limits.
   */
  open(
    path: string,
    header: Headers | undefined,
    timeoutMs: number | undefined,
    message: Payload | undefined,
    endStream: boolean,
  ): Promise<void> | undefined {
    const metadata = prepareMetadata(header);
    const peer = this.#session.peer;
    if (peer !== undefined && metadata.byteLength > peer.maxHeaderBytes) {
      throw new ConnectError(
        `request headers of ${metadata.byteLength} bytes exceed the server's maxHeaderBytes ${peer.maxHeaderBytes} (announced in its handshake)`,
        Code.ResourceExhausted,
      );
    }
    let stream: Stream;
    try {
      stream = this.#session.openStream(this, true);
    } catch (e) {
      throw toConnectError(e);
    }
    this.#slotReserved = false;
    this.#stream = stream;
    this.#config.counters.callsStarted++;
    this.#config.counters.callsActive++;
    const maxFrame = this.#session.channel?.maxFrameBytes ?? Infinity;
    if (message !== undefined && callStartBytes(utf8Length(path), metadata, timeoutMs, message) > maxFrame) {
      // Too big for one frame with its headers: CALL_START, then the message on its own.
      const start = stream.sendCallStart(path, metadata, timeoutMs, undefined, false);
      const rest = stream.sendMessage(message, endStream);
      return start === undefined && rest === undefined ? undefined : Promise.all([start, rest]).then(() => undefined);
    }
    return stream.sendCallStart(path, metadata, timeoutMs, message, endStream);
  }

  /** Sends one request message (waits for flow-control credit when needed). */
  send(message: Payload): Promise<void> | undefined {
    return this.#stream?.sendMessage(message);
  }

  /** No more request messages. */
  halfClose(): Promise<void> | undefined {
    return this.#stream?.sendHalfClose();
  }

  /** Abandons the call: CANCEL to the server, and the call fails with `reason`. */
  cancel(reason: unknown): void {
    if (this.#done) return;
    const error = ConnectError.from(reason, Code.Canceled);
    this.#stream?.cancel(error.code, error.rawMessage);
    this.#fail(error, true);
  }

  /** The response messages; under "alias", asking for the next one releases the previous. */
  responses(): AsyncIterable<MessageShape<O>> {
    const messages = this.messages;
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          this.#releaseLast();
          return messages.next();
        },
      }),
    };
  }

  /** Unary: settles with header, the one message and trailers at END, or the call's error. */
  unaryResult(): Promise<UnaryResult<O>> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return (this.#result ??= new Deferred<UnaryResult<O>>()).promise;
  }

  onFrame(frame: StreamFrame): void {
    switch (frame.kind) {
      case FrameKind.HEADERS:
        this.#gotHeader(frame.metadata);
        if (frame.message !== undefined) this.#onMessage(frame.message);
        return;
      case FrameKind.MESSAGE:
        this.#onMessage(frame.message);
        return;
      case FrameKind.END: {
        if (frame.halfClose) return;
        if (frame.headers !== undefined) this.#gotHeader(frame.headers);
        if (frame.message !== undefined) this.#onMessage(frame.message);
        if (this.#done) return;
        // The parsed trailers become the call's, unless a stream handed out `trailer` already.
        if (this.#trailer === undefined) this.#trailer = frame.trailers;
        else frame.trailers.forEach(appendTo, this.#trailer);
        if (frame.status.code !== 0) {
          this.#fail(errorFromStatus(frame.status, mergeMetadata(this.#header, this.#trailer)), false);
          return;
        }
        if (this.#unary && this.#message === undefined) {
          this.#fail(new ConnectError("protocol error: missing output message for unary method", Code.Unimplemented), false);
          return;
        }
        this.#finish();
        this.#result?.resolve({ header: this.#header ?? new Headers(), message: this.#message as MessageShape<O>, trailer: this.#trailer });
        this.#messages?.end();
        return;
      }
      case FrameKind.CANCEL:
        this.#fail(errorFromStatus({ code: frame.code, message: frame.reason, details: [] }, new Headers()), false);
        return;
      default:
        return;
    }
  }

  onReset(error: StreamResetError): void {
    this.#fail(toConnectError(error), false);
  }

  #gotHeader(h: Headers): void {
    if (this.#header !== undefined) return;
    this.#header = h;
    this.#headerWaiter?.resolve(h);
  }

  #onMessage(view: Uint8Array): void {
    if (this.#done) return;
    const size = view.byteLength;
    const { counters, readMaxBytes, policy, readOptions } = this.#config;
    if (size > readMaxBytes) {
      this.cancel(readLimitError(size, readMaxBytes));
      return;
    }
    if (this.#unary && this.#message !== undefined) {
      this.cancel(new ConnectError("protocol error: received extra output message for unary method", Code.Unimplemented));
      return;
    }
    counters.received(size);
    const queue = this.#messages;
    const stream = this.#stream as Stream;
    if (queue !== undefined && queue.wantsBytes) {
      queue.pushBytes(view, policy === "alias" ? stream.hold() : undefined);
      return;
    }
    try {
      const decoded = decodeMessage(this.#output, view, policy, stream, counters, readOptions);
      if (this.#unary) {
        this.#message = decoded.message;
        stream.consumed(size);
      } else {
        this.messages.push(decoded.message, size, decoded.lease);
      }
    } catch (e) {
      this.cancel(toConnectError(e, Code.Internal));
    }
  }

  #releaseLast(): void {
    const lease = this.#lastLease;
    if (lease === undefined) return;
    this.#lastLease = undefined;
    lease.release();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#slotReserved) {
      this.#slotReserved = false;
      this.#session.cancelReservation();
    }
    if (this.#stream !== undefined) this.#config.counters.callsActive--;
    this.#config.calls.delete(this as unknown as ClientCall<DescMessage>);
  }

  #fail(error: ConnectError, discard: boolean): void {
    if (this.#done) return;
    this.#finish();
    this.#error = error;
    // Before any response headers, the call fails as a whole (like an HTTP error status).
    if (this.#header === undefined) this.#headerWaiter?.reject(error);
    this.#result?.reject(error);
    if (this.#message !== undefined) releaseMessage(this.#message);
    this.#messages?.fail(error, discard);
  }
}

function appendTo(this: Headers, value: string, key: string): void {
  this.append(key, value);
}
