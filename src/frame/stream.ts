// One call's stream on a session: its send/receive flow-control windows and the frames
// it may send. Its receive state moves by the transitions of receive-transitions.ts,
// which the session picks by role; this class owns the sending side and the credit
// bookkeeping (docs/PROTOCOL.md §4.6):
//   - a sender may send a message while its window is > 0; the window then drops by the
//     message size plus MESSAGE_WINDOW_COST (it may go negative: one message is never
//     split; an empty message still costs its frame header);
//   - the receiver grants the bytes back with CREDIT once its application consumed them,
//     in batches of at least half the initial window.

import type { Lease } from "../channel/channel.js";
import { codedError } from "../errors.js";
import { MESSAGE_WINDOW_COST } from "./constants.js";
import {
  encodeCallStart,
  encodeCancel,
  encodeCredit,
  encodeEnd,
  encodeHalfClose,
  encodeHeaders,
  encodeMessage,
  fitStatus,
} from "./frames.js";
import type { EndInit, OutFrame } from "./frames.js";
import type { PreparedMetadata } from "./metadata.js";
import type { Payload } from "./payload.js";
import type { StreamResetError } from "./protocol-error.js";
import type { StreamFrame, Transition } from "./receive-transitions.js";

export type { StreamFrame } from "./receive-transitions.js";

/** What a stream needs from its session (the session implements it). */
export interface StreamHost {
  /** The peer's HELLO limits, once known. */
  readonly peer: { readonly maxHeaderBytes: number } | undefined;
  /** Queues a frame: undefined when handed to the channel at once, else a promise. */
  send(out: OutFrame): Promise<void> | undefined;
  /** send() for a frame nobody awaits. */
  sendQuietly(out: OutFrame): void;
  /** Holds the frame being delivered. */
  holdCurrent(): Lease;
  /** The stream ended: out of the session's table. */
  forget(stream: Stream): void;
}

/** Receives the frames of one stream. */
export interface StreamHandler {
  /**
   * A frame of this stream. Views in it (messages, detail values) are valid only
   * during this call unless `stream.hold()` is called in it.
   */
  onFrame(frame: StreamFrame): void;
  /** The stream ended without a normal END: connection lost, GOAWAY, protocol error. */
  onReset(error: StreamResetError): void;
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

/** One stream of a session. Created by Session.openStream() or for a received CALL_START. */
export class Stream {
  readonly id: number;
  readonly #session: StreamHost;
  handler: StreamHandler | undefined;
  #sendWindow: number;
  #recvWindow: number;
  readonly #initialRecvWindow: number;
  #pendingCredit = 0;
  /** Senders waiting for flow-control credit (made when the first one waits). */
  #waiters: Waiter[] | undefined;
  #closed = false;
  #closeError: Error | undefined;
  /** CALL_START never reached the channel: nothing else of this stream may follow it. */
  #startFailed = false;
  /** Receive-side state (receive-transitions.ts), moved by receive(). */
  #headersReceived = false;
  #remoteDone = false;
  /** @internal Server: the stream's slot stays in use until its handler settled (Session.retainSlot). */
  slotRetained = false;

  /** @internal */
  constructor(session: StreamHost, id: number, sendWindow: number, recvWindow: number) {
    this.#session = session;
    this.id = id;
    this.#sendWindow = sendWindow;
    this.#recvWindow = recvWindow;
    this.#initialRecvWindow = recvWindow;
  }

  /** False once the stream ended (END, CANCEL or reset); sends are then dropped. */
  get open(): boolean {
    return !this.#closed;
  }

  /** Keeps the frame being delivered to the handler alive; see Channel.hold(). */
  hold(): Lease {
    return this.#session.holdCurrent();
  }

  /** Client: starts the call. `message` and `endStream` let a unary call fit one frame. */
  sendCallStart(
    path: string,
    metadata: PreparedMetadata,
    timeoutMs: number | undefined,
    message: Payload | undefined,
    endStream: boolean,
  ): Promise<void> | undefined {
    if (message !== undefined) this.#sendWindow -= message.byteLength + MESSAGE_WINDOW_COST;
    const sent = this.#session.send(encodeCallStart(this.id, path, metadata, timeoutMs, message, endStream));
    sent?.catch(() => {
      this.#startFailed = true;
    });
    return sent;
  }

  /** Frames queued behind a CALL_START that then failed are dropped, not sent. */
  #guard(out: OutFrame): OutFrame {
    out.skip = () => this.#startFailed;
    return out;
  }

  /** Server: response headers, optionally with the first message. */
  sendHeaders(metadata: PreparedMetadata, message: Payload | undefined): Promise<void> | undefined {
    if (this.#closed) return undefined;
    if (message !== undefined) {
      if (this.#sendWindow <= 0) return this.#whenWindow().then(() => this.sendHeaders(metadata, message));
      this.#sendWindow -= message.byteLength + MESSAGE_WINDOW_COST;
    }
    return this.#session.send(encodeHeaders(this.id, metadata, message));
  }

  /** A message; waits for flow-control credit first if the window is exhausted. */
  sendMessage(message: Payload, endStream = false): Promise<void> | undefined {
    if (this.#closed) return undefined;
    if (this.#sendWindow <= 0) return this.#whenWindow().then(() => this.sendMessage(message, endStream));
    this.#sendWindow -= message.byteLength + MESSAGE_WINDOW_COST;
    return this.#session.send(this.#guard(encodeMessage(this.id, message, endStream)));
  }

  /** Client: no more messages. */
  sendHalfClose(): Promise<void> | undefined {
    if (this.#closed) return undefined;
    return this.#session.send(this.#guard(encodeHalfClose(this.id)));
  }

  /** Server: ends the call with a status. Closes the stream. */
  sendEnd(init: EndInit): Promise<void> | undefined {
    if (this.#closed) return undefined;
    if (init.message !== undefined && this.#sendWindow <= 0) {
      return this.#whenWindow().then(() => this.sendEnd(init));
    }
    // The status within the client's max_header_bytes (a longer one is cut, not refused).
    const limit = this.#session.peer?.maxHeaderBytes;
    const status = limit === undefined ? init.status : fitStatus(init.status, limit);
    if (status !== init.status) init = { ...init, status };
    // Queue the frame before closing: closing the last stream may close a draining session.
    const sent = this.#session.send(encodeEnd(this.id, init));
    this.close();
    return sent;
  }

  /** Either side: abandons the call (code: a Connect code). Closes the stream. */
  cancel(code: number, reason: string): void {
    if (this.#closed) return;
    if (!this.#startFailed) this.#session.sendQuietly(this.#guard(encodeCancel(this.id, code, reason)));
    this.close();
  }

  /** The application consumed one received message of `bytes`: grant its cost back. */
  consumed(bytes: number): void {
    this.#pendingCredit += bytes + MESSAGE_WINDOW_COST;
    if (this.#closed || this.#remoteDone) return;
    if (this.#pendingCredit * 2 < this.#initialRecvWindow) return;
    const credit = this.#pendingCredit;
    this.#pendingCredit = 0;
    this.#recvWindow += credit;
    this.#session.sendQuietly(encodeCredit(this.id, credit));
  }

  /** Client: the response headers arrived. */
  get headersReceived(): boolean {
    return this.#headersReceived;
  }

  /** The peer sends nothing more on this stream. */
  get remoteDone(): boolean {
    return this.#remoteDone;
  }

  /**
   * @internal A received frame's transition (receive-transitions.ts): charges its message
   * to the receive window, then takes the new state. False when the peer overran its
   * window (nothing changed then).
   */
  receive(transition: Transition): boolean {
    if (transition.messageBytes !== undefined && !this.#received(transition.messageBytes)) return false;
    this.#headersReceived = transition.headersReceived;
    this.#remoteDone = transition.remoteDone;
    if (transition.close) this.close();
    return true;
  }

  /** Receive accounting of one message of `bytes`; false when the peer overran its window. */
  #received(bytes: number): boolean {
    if (this.#recvWindow <= 0) return false;
    this.#recvWindow -= bytes + MESSAGE_WINDOW_COST;
    return true;
  }

  /** @internal A CREDIT frame arrived. */
  grant(increment: number): void {
    this.#sendWindow += increment;
    if (this.#sendWindow <= 0) return;
    const waiters = this.#waiters;
    if (waiters === undefined) return;
    this.#waiters = undefined;
    for (const w of waiters) w.resolve();
  }

  /** Ends the stream locally without sending anything (also used by the session). */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    const waiters = this.#waiters;
    if (waiters !== undefined) {
      this.#waiters = undefined;
      const reason = error ?? codedError("ERR_STREAM_CLOSED", "stream closed");
      for (const w of waiters) w.reject(reason);
    }
    this.#session.forget(this);
  }

  /** The error the stream was reset with, if any. */
  get closeError(): Error | undefined {
    return this.#closeError;
  }

  #whenWindow(): Promise<void> {
    return new Promise<void>((resolve, reject) => (this.#waiters ??= []).push({ resolve, reject }));
  }
}
