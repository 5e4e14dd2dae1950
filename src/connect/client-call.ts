// The client side of one call on a session stream: sends CALL_START / MESSAGE / END,
// receives HEADERS / MESSAGE / END / CANCEL, decodes response messages in place (the
// policy lives in decode.ts) and turns them into what connect-es interceptors and
// clients expect: a header promise, an async iterable of messages, trailers, and
// ConnectErrors with metadata = headers + trailers.

import type { BinaryReadOptions, DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Lease } from "../channel/channel.js";
import { FrameKind, HEADER_BYTES } from "../frame/constants.js";
import { utf8Length } from "../frame/wire.js";
import { prepareMetadata } from "../frame/metadata.js";
import type { StreamResetError } from "../frame/protocol-error.js";
import type { Session } from "../frame/session.js";
import type { Stream, StreamFrame, StreamHandler } from "../frame/stream.js";
import { decodeMessage } from "./decode.js";
import type { BytesPolicy } from "./decode.js";
import { errorFromStatus, mergeMetadata, toConnectError } from "./errors.js";
import { MessageQueue } from "./message-queue.js";
import type { Counters } from "./stats.js";

/** What every call of a transport shares. */
export interface ClientCallConfig {
  policy: BytesPolicy;
  counters: Counters;
  /** Largest message this client accepts. */
  maxMessageBytes: number;
  readOptions: Partial<BinaryReadOptions> | undefined;
}

/** One call from the client's side. */
export class ClientCall<O extends DescMessage> implements StreamHandler {
  readonly #config: ClientCallConfig;
  readonly #session: Session;
  readonly #output: O;
  readonly #releaseOnNext: boolean;
  readonly #onDone: () => void;
  #stream: Stream | undefined;
  #header: Headers | undefined;
  #headerPromise: Promise<Headers>;
  #resolveHeader!: (h: Headers) => void;
  #rejectHeader!: (e: unknown) => void;
  #lastLease: Lease | undefined;
  #done = false;
  /** Response trailers; filled when END arrives. */
  readonly trailer = new Headers();
  /** Response messages, decoded on arrival. */
  readonly messages: MessageQueue<MessageShape<O>>;

  constructor(config: ClientCallConfig, session: Session, output: O, releaseOnNext: boolean, onDone: () => void) {
    this.#config = config;
    this.#session = session;
    this.#output = output;
    this.#releaseOnNext = releaseOnNext;
    this.#onDone = onDone;
    this.#headerPromise = new Promise<Headers>((resolve, reject) => {
      this.#resolveHeader = resolve;
      this.#rejectHeader = reject;
    });
    this.#headerPromise.catch(() => undefined);
    this.messages = new MessageQueue<MessageShape<O>>({
      onTake: (size, lease) => {
        this.#stream?.consumed(size);
        if (this.#releaseOnNext) this.#lastLease = lease;
      },
    });
  }

  /** True once the call ended (END, CANCEL, reset or local cancel). */
  get done(): boolean {
    return this.#done;
  }

  /** Resolves with the response headers; rejects if the call fails before any. */
  get header(): Promise<Headers> {
    return this.#headerPromise;
  }

  /**
   * Opens the stream and sends CALL_START (with the first message and half-close for
   * unary and server-streaming calls). Throws ConnectError on limits.
   */
  open(
    path: string,
    header: Headers,
    timeoutMs: number | undefined,
    message: Uint8Array | undefined,
    endStream: boolean,
  ): Promise<void> | undefined {
    const metadata = prepareMetadata(header);
    const peer = this.#session.peer;
    if (peer !== undefined && metadata.byteLength > peer.maxHeaderBytes) {
      throw new ConnectError(
        `request headers of ${metadata.byteLength} bytes exceed the server's limit of ${peer.maxHeaderBytes}`,
        Code.ResourceExhausted,
      );
    }
    let stream: Stream;
    try {
      stream = this.#session.openStream(this);
    } catch (e) {
      throw toConnectError(e);
    }
    this.#stream = stream;
    this.#config.counters.callsStarted++;
    this.#config.counters.callsActive++;
    const maxFrame = this.#session.channel?.maxFrameBytes ?? Infinity;
    if (message !== undefined && HEADER_BYTES + 6 + utf8Length(path) + metadata.byteLength + message.byteLength > maxFrame) {
      // Too big for one frame with its headers: CALL_START, then the message on its own.
      const start = stream.sendCallStart(path, metadata, timeoutMs, undefined, false);
      const rest = stream.sendMessage(message, endStream);
      return start === undefined && rest === undefined ? undefined : Promise.all([start, rest]).then(() => undefined);
    }
    return stream.sendCallStart(path, metadata, timeoutMs, message, endStream);
  }

  /** Sends one request message (waits for flow-control credit when needed). */
  send(message: Uint8Array): Promise<void> | undefined {
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
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          this.#releaseLast();
          return this.messages.next();
        },
      }),
    };
  }

  /** Waits for the single response of a unary call. */
  async unaryResult(): Promise<{ header: Headers; message: MessageShape<O>; trailer: Headers }> {
    const header = await this.#headerPromise;
    const first = await this.messages.next();
    if (first.done === true) {
      throw new ConnectError("protocol error: missing output message for unary method", Code.Unimplemented);
    }
    const second = await this.messages.next();
    if (second.done !== true) {
      throw new ConnectError("protocol error: received extra output message for unary method", Code.Unimplemented);
    }
    return { header, message: first.value, trailer: this.trailer };
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
        frame.trailers.forEach((value, key) => this.trailer.append(key, value));
        if (frame.status.code === 0) {
          this.#finish();
          this.messages.end();
          return;
        }
        this.#fail(errorFromStatus(frame.status, mergeMetadata(this.#header, this.trailer)), false);
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
    this.#resolveHeader(h);
  }

  #onMessage(view: Uint8Array): void {
    if (this.#done) return;
    const size = view.byteLength;
    const { counters, maxMessageBytes, policy, readOptions } = this.#config;
    if (size > maxMessageBytes) {
      this.cancel(
        new ConnectError(`message size ${size} is larger than configured readMaxBytes ${maxMessageBytes}`, Code.ResourceExhausted),
      );
      return;
    }
    counters.received(size);
    const stream = this.#stream as Stream;
    try {
      const decoded = decodeMessage(this.#output, view, policy, () => stream.hold(), counters, readOptions);
      this.messages.push(decoded.message, size, decoded.lease);
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
    if (this.#stream !== undefined) this.#config.counters.callsActive--;
    this.#onDone();
  }

  #fail(error: ConnectError, discard: boolean): void {
    if (this.#done) return;
    this.#finish();
    // Before any response headers, the call fails as a whole (like an HTTP error status).
    if (this.#header === undefined) this.#rejectHeader(error);
    this.messages.fail(error, discard);
  }
}
