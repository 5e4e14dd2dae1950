// The received frames of one session, routed: each channel frame is parsed
// (parse-frame.ts) and goes, by kind, to the handshake until the peer is established,
// to PING/PONG bookkeeping (keepalive.ts), to the session's drain on GOAWAY, to a new
// server stream on CALL_START (ids in order, refused while draining or above
// max_concurrent_streams) or to its stream, whose receive state moves by the role's
// transition (receive-transitions.ts) before its handler sees the frame. A malformed
// frame or a state violation closes the session: GOAWAY with the reason, then the
// channel. MESSAGE frames take this path once per message: it allocates nothing of its own.

import type { Channel, Lease } from "../channel/channel.js";
import { FrameKind, StatusCode } from "./constants.js";
import { encodeEnd, encodeGoAway } from "./frames.js";
import type { Frame, Hello, OutFrame } from "./frames.js";
import type { Pings } from "./keepalive.js";
import { prepareMetadata } from "./metadata.js";
import { parseFrame, parseMessageAt } from "./parse-frame.js";
import { ProtocolError, StreamResetError } from "./protocol-error.js";
import { clientReceive, serverReceive, serverStart } from "./receive-transitions.js";
import type { SessionHandshake } from "./session-handshake.js";
import type { ResolvedSessionOptions } from "./session-options.js";
import type { Stream, StreamHandler } from "./stream.js";
import type { StreamSlots } from "./stream-slots.js";
import type { StreamTable } from "./stream-table.js";

type CallStart = Extract<Frame, { kind: typeof FrameKind.CALL_START }>;

/** Called by a server session for each new call; returns the stream's handler. */
export type CallHandler = (stream: Stream, start: CallStart) => StreamHandler;

/** What the receiver needs of its session beyond the parts it is given. */
export interface ReceiveHost {
  readonly closed: boolean;
  readonly channel: Channel | undefined;
  /** The peer's HELLO, once the handshake established it. */
  readonly peer: Hello | undefined;
  /** This side sent GOAWAY: new calls are refused. */
  readonly goAwaySent: boolean;
  /** Client: the id of the last stream it opened. */
  readonly lastLocalId: number;
  /** Server: a stream for a call the peer started (not yet in the table). */
  newStream(id: number, peer: Hello): Stream;
  /** Puts a new stream in the table. */
  addStream(stream: Stream): void;
  onGoAway(lastStreamId: number, code: number, message: string): void;
  sendQuietly(out: OutFrame): void;
  /** Closes the session with `error`. */
  fail(error: StreamResetError): void;
}

/** The parts of the session the receiver routes frames to. */
export interface ReceiveParts {
  readonly streams: StreamTable<Stream>;
  readonly slots: StreamSlots;
  readonly handshake: SessionHandshake;
  readonly pings: Pings;
  readonly onCall: CallHandler | undefined;
}

/** Routes the received frames of one session. */
export class FrameReceiver {
  readonly #host: ReceiveHost;
  readonly #client: boolean;
  readonly #options: ResolvedSessionOptions;
  readonly #streams: StreamTable<Stream>;
  readonly #parts: ReceiveParts;
  /** Server: the id of the last stream the peer started. */
  #lastPeerId = 0;
  /** The frame being dispatched (what a stream's hold() holds): a view, or a range of #memory. */
  #current: Uint8Array | undefined;
  #memory: Uint8Array | undefined;
  #offset = 0;
  #length = 0;

  constructor(role: "client" | "server", options: ResolvedSessionOptions, host: ReceiveHost, parts: ReceiveParts) {
    this.#client = role === "client";
    this.#options = options;
    this.#host = host;
    this.#streams = parts.streams;
    this.#parts = parts;
  }

  /** Server: the id of the last stream the peer started (what a GOAWAY carries). */
  get lastPeerId(): number {
    return this.#lastPeerId;
  }

  /** Holds the frame being dispatched. */
  holdCurrent(): Lease {
    const channel = this.#host.channel;
    const memory = this.#memory;
    if (memory !== undefined) this.#current ??= new Uint8Array(memory.buffer, memory.byteOffset + this.#offset, this.#length);
    if (this.#current === undefined || channel === undefined) throw new Error("hold() outside of frame delivery");
    return channel.hold(this.#current);
  }

  /**
   * One frame from the channel, in place (ChannelEvents.onFrameAt): a MESSAGE on an
   * established session goes straight to its stream with one view made (its message);
   * every other frame takes onFrame()'s way.
   */
  onFrameAt(memory: Uint8Array, offset: number, length: number): void {
    if (this.#host.closed) return;
    const message = this.#host.peer === undefined ? undefined : parseMessageAt(memory, offset, length, this.#client);
    if (message === undefined) {
      this.onFrame(new Uint8Array(memory.buffer, memory.byteOffset + offset, length));
      return;
    }
    this.#memory = memory;
    this.#offset = offset;
    this.#length = length;
    try {
      this.#onStreamFrame(message);
    } catch (e) {
      this.#protocolError(e);
    } finally {
      this.#memory = undefined;
      this.#current = undefined;
    }
  }

  /** One frame from the channel. */
  onFrame(bytes: Uint8Array): void {
    if (this.#host.closed) return;
    let frame: Frame;
    try {
      frame = parseFrame(bytes, this.#client, this.#options.maxHeaderBytes);
    } catch (e) {
      this.#protocolError(e);
      return;
    }
    this.#current = bytes;
    try {
      this.#dispatch(frame);
    } catch (e) {
      this.#protocolError(e);
    } finally {
      this.#current = undefined;
    }
  }

  #dispatch(frame: Frame): void {
    const peer = this.#host.peer;
    if (peer === undefined) {
      this.#parts.handshake.onFrame(frame);
      return;
    }
    switch (frame.kind) {
      case FrameKind.HELLO:
        throw new ProtocolError("second HELLO");
      case FrameKind.AUTH:
        throw new ProtocolError("AUTH after the handshake");
      case FrameKind.PING:
        this.#parts.pings.answer(frame.id);
        return;
      case FrameKind.PONG:
        this.#parts.pings.onPong(frame.id);
        return;
      case FrameKind.GOAWAY:
        this.#host.onGoAway(frame.lastStreamId, frame.code, frame.message);
        return;
      case FrameKind.CALL_START:
        this.#onCallStart(frame, peer);
        return;
      default:
        this.#onStreamFrame(frame);
    }
  }

  #onCallStart(frame: CallStart, peer: Hello): void {
    if (this.#client) throw new ProtocolError("CALL_START sent to a client");
    if (frame.streamId <= this.#lastPeerId) {
      throw new ProtocolError(`CALL_START stream id ${frame.streamId} not above previous ${this.#lastPeerId}`);
    }
    this.#lastPeerId = frame.streamId;
    if (this.#host.goAwaySent) {
      this.#refuse(frame.streamId, StatusCode.UNAVAILABLE, "server is shutting down");
      return;
    }
    // Ended streams whose handlers still run count too (StreamSlots says why).
    if (!this.#parts.slots.free) {
      this.#refuse(frame.streamId, StatusCode.RESOURCE_EXHAUSTED, `too many concurrent streams (limit ${this.#options.maxConcurrentStreams})`);
      return;
    }
    const stream = this.#host.newStream(frame.streamId, peer);
    if (!stream.receive(serverStart(frame))) throw new ProtocolError("flow-control window exceeded");
    this.#host.addStream(stream);
    const onCall = this.#parts.onCall;
    if (onCall === undefined) {
      stream.close();
      this.#refuse(frame.streamId, StatusCode.INTERNAL, "no call handler");
      return;
    }
    stream.handler = onCall(stream, frame);
  }

  /** Ends a call this session does not take with an error status. */
  #refuse(streamId: number, code: number, message: string): void {
    this.#host.sendQuietly(
      encodeEnd(streamId, {
        headers: undefined,
        message: undefined,
        status: { code, message, details: [] },
        trailers: prepareMetadata(undefined),
      }),
    );
  }

  #onStreamFrame(frame: Exclude<Frame, { streamId: 0 } | { kind: typeof FrameKind.CALL_START }>): void {
    const stream = this.#streams.get(frame.streamId);
    if (stream === undefined) {
      const last = this.#client ? this.#host.lastLocalId : this.#lastPeerId;
      if (frame.streamId <= last) return; // a stream that already ended: late frames are dropped
      throw new ProtocolError(`frame kind ${frame.kind} for unknown stream ${frame.streamId}`);
    }
    if (frame.kind === FrameKind.CREDIT) {
      stream.grant(frame.increment);
      return;
    }
    const transition = this.#client ? clientReceive(stream.id, stream, frame) : serverReceive(stream.id, stream, frame);
    if (!stream.receive(transition)) throw new ProtocolError("flow-control window exceeded");
    stream.handler?.onFrame(frame);
  }

  /** GOAWAY with the reason (a malformed frame, a state violation, a bug here), then close. */
  #protocolError(e: unknown): void {
    if (this.#host.closed) return;
    const message = e instanceof Error ? e.message : String(e);
    const isProtocol = e instanceof ProtocolError;
    const text = isProtocol ? `protocol error: ${message}` : `internal error: ${message}`;
    this.#host.sendQuietly(encodeGoAway(this.#lastPeerId, StatusCode.INTERNAL, text));
    this.#host.fail(new StreamResetError("ERR_PROTOCOL", StatusCode.INTERNAL, text, e));
  }
}
