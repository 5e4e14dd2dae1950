// A protocol session over one channel: the HELLO handshake, the stream table and the
// receive-side state machine of every stream, connection frames (PING/PONG, GOAWAY),
// and the send queue that turns a full region into back-pressure (bounded waits, then
// ERR_REGION_FULL). A malformed frame or a state violation closes this session only:
// GOAWAY with the reason, then the channel; its streams are reset with that reason.
// Silent peers: an optional keepalive (keepalive.ts) and, on byte-stream channels, a
// bound on a frame left half-sent (receive-watchdog.ts).
//
// The exchange (docs/PROTOCOL.md §2):
//   1. client connects and sends HELLO (versions, its limits)
//   2. server answers HELLO (chosen version, its limits), or GOAWAY if none fits (the
//      client then fails with the GOAWAY's code and message)
//   3. client opens streams with CALL_START (ids increase), both sides send MESSAGE /
//      CREDIT, the client half-closes with END (or a flag), the server ends with END
//   4. either side may CANCEL a stream; PING is answered with PONG
//   5. GOAWAY(last stream id) drains: no new streams; the session closes when idle
//   6. the peer may end its side of the channel (half-close, onEnd): streams still
//      waiting for its frames are reset, the others finish (the peer is PINGed meanwhile:
//      a dead peer's kernel answers with a reset), then the session closes

import type { Channel, ChannelEngine, ChannelEvents, ChannelStats, Lease } from "../channel/channel.js";
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_INITIAL_WINDOW_BYTES,
  DEFAULT_KEEPALIVE_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_STREAMS,
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_SEND_TIMEOUT_MS,
  FrameKind,
  MAX_STREAM_ID,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  QUEUED_FRAMES_BASE,
  QUEUED_FRAMES_PER_STREAM,
} from "./constants.js";
import { encodeEnd, encodeGoAway, encodeHello, encodePing, parseFrame } from "./frames.js";
import type { Frame, Hello, OutFrame } from "./frames.js";
import { prepareMetadata } from "./metadata.js";
import { ProtocolError, StreamResetError } from "./protocol-error.js";
import { Stream } from "./stream.js";
import type { StreamFrame, StreamHandler } from "./stream.js";
import { Keepalive } from "./keepalive.js";
import { ReceiveWatchdog } from "./receive-watchdog.js";
import { StreamSlots } from "./stream-slots.js";
import { StreamTable } from "./stream-table.js";
import { SendQueue } from "./send-queue.js";

// Connect codes used by this layer (numeric, to stay below src/connect/).
const CODE_RESOURCE_EXHAUSTED = 8;
const CODE_FAILED_PRECONDITION = 9;
const CODE_INTERNAL = 13;
const CODE_UNAVAILABLE = 14;

/** Limits and timeouts of a session; every field has a safe default. */
export interface SessionOptions {
  /** Largest message accepted (announced in HELLO). Default 4 MiB. */
  maxMessageBytes?: number;
  /** Largest metadata block accepted (announced in HELLO). Default 64 KiB. */
  maxHeaderBytes?: number;
  /** Streams the peer may open at once (server; announced in HELLO). Default 1024. */
  maxConcurrentStreams?: number;
  /** Bytes of messages a peer may send on a stream before credit. Default 1 MiB. */
  initialWindowBytes?: number;
  /** HELLO must complete within this. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Bound on waiting for region space before a send fails. Default 10 s. */
  sendTimeoutMs?: number;
  /** Server: GOAWAY after this long without streams (0: never). Default 0. */
  idleTimeoutMs?: number;
  /** PING the peer after this long without a frame from it (0: never). Default 0. */
  keepaliveMs?: number;
  /** Close the connection when a keepalive PING gets no PONG within this. Default 20 s. */
  keepaliveTimeoutMs?: number;
}

/** Called by a server session for each new call; returns the stream's handler. */
export type CallHandler = (stream: Stream, start: Extract<Frame, { kind: typeof FrameKind.CALL_START }>) => StreamHandler;

interface SessionHooks {
  onCall?: CallHandler;
  /** Once, when the session ended, with the error its streams were reset with. */
  onClose?: (error: StreamResetError) => void;
}

/** Counters of a session. */
export interface SessionStats extends ChannelStats {
  streamsOpened: number;
}

function resolved(options: SessionOptions): Required<SessionOptions> {
  return {
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    maxConcurrentStreams: options.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
    initialWindowBytes: options.initialWindowBytes ?? DEFAULT_INITIAL_WINDOW_BYTES,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    sendTimeoutMs: options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
    idleTimeoutMs: options.idleTimeoutMs ?? 0,
    keepaliveMs: options.keepaliveMs ?? 0,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
  };
}

/** Size of a PING/PONG frame. */
const PING_FRAME_BYTES = encodePing(FrameKind.PONG, 0).byteLength;

/**
 * How many frames may wait for region space at once: a few per stream (a message, END or
 * CANCEL, CREDITs) plus connection frames. More means the peer makes this side answer
 * without reading the answers (docs/LIMITS.md, "send queue").
 */
function maxQueuedFrames(streams: number): number {
  return QUEUED_FRAMES_PER_STREAM * streams + QUEUED_FRAMES_BASE;
}

/**
 * While calls run for a peer that ended its side, how often it is PINGed. A killed
 * process's kernel also sends FIN; only data sent to it tells the two apart (it answers
 * with RST, and the send after that fails: onClose(error) resets the calls).
 */
const PEER_END_PROBE_MS = 250;

function peerEndedError(): StreamResetError {
  return new StreamResetError("ERR_CONNECTION_CLOSED", CODE_UNAVAILABLE, "connection ended by peer");
}

/** What calls fail with when the peer closed the connection with GOAWAY(code ≠ 0, message). */
function goAwayError(code: number, message: string): StreamResetError {
  return new StreamResetError("ERR_PROTOCOL", code, `connection closed by peer: ${message === "" ? "error" : message}`);
}

function errorWithCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** A protocol session on one channel. */
export class Session {
  readonly role: "client" | "server";
  readonly options: Required<SessionOptions>;
  readonly #hooks: SessionHooks;
  #channel: Channel | undefined;
  #peer: Hello | undefined;
  #ready: { promise: Promise<void>; resolve(): void; reject(e: unknown): void };
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the current idle period began (performance.now()). */
  #idleSince = 0;
  readonly #streams = new StreamTable<Stream>();
  #lastLocalId = 0;
  #lastPeerId = 0;
  #current: Uint8Array | undefined;
  readonly #sendQueue: SendQueue;
  /** The PONG waiting in the send queue, if any: later PINGs only update its id. */
  #pong: { id: number } | undefined;
  #goAwaySent = false;
  #goAwayReceived = false;
  #goAwayError: StreamResetError | undefined;
  #peerEnded = false;
  #probeTimer: ReturnType<typeof setTimeout> | undefined;
  #keepalive: Keepalive | undefined;
  #receiveWatchdog: ReceiveWatchdog | undefined;
  #closed = false;
  #closeError: StreamResetError | undefined;
  #pings = new Map<number, { start: number; resolve(rtt: number): void; reject(e: unknown): void }>();
  #nextPing = 1;
  readonly #slots: StreamSlots;
  #streamsOpened = 0;
  #finalStats: ChannelStats | undefined;
  /** The channel callbacks of this session. */
  readonly events: ChannelEvents;

  constructor(role: "client" | "server", options: SessionOptions, hooks: SessionHooks = {}) {
    this.role = role;
    this.options = resolved(options);
    this.#hooks = hooks;
    this.#slots = new StreamSlots(() => this.#streams.size, this.options.maxConcurrentStreams);
    const session = this;
    this.#sendQueue = new SendQueue(
      {
        get channel() {
          return session.#channel;
        },
        get closed() {
          return session.#closed;
        },
        get closeError() {
          return session.#closeError;
        },
        fail: (error) => this.#closeWith(error),
        drained: () => this.#closeIfDrained(),
      },
      this.options.sendTimeoutMs,
      maxQueuedFrames(this.options.maxConcurrentStreams),
    );
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    this.#ready = { promise, resolve, reject };
    this.events = {
      onFrame: (frame) => this.#onFrame(frame),
      onEnd: () => this.#onPeerEnd(),
      onClose: (error) => this.#onChannelClose(error),
    };
  }

  /** Connects a client session and completes the handshake. */
  static async connect(engine: ChannelEngine, url: string, options: SessionOptions, hooks?: SessionHooks): Promise<Session> {
    const session = new Session("client", options, hooks);
    const channel = await engine.connect(url, session.events);
    session.attach(channel);
    await session.ready;
    return session;
  }

  /** Binds the session to its channel; the client then sends HELLO. */
  attach(channel: Channel): void {
    this.#channel = channel;
    if (this.#closed) {
      channel.close();
      return;
    }
    this.#handshakeTimer = setTimeout(() => {
      this.#fail(new StreamResetError("ERR_HANDSHAKE", CODE_UNAVAILABLE, `handshake not completed within ${this.options.handshakeTimeoutMs} ms`));
    }, this.options.handshakeTimeoutMs);
    // Byte-stream channels reassemble frames: a peer must not park one half-sent.
    if (channel.engine === "uring" || channel.engine === "net") {
      this.#receiveWatchdog = new ReceiveWatchdog(channel, 2 * this.options.sendTimeoutMs, (message) =>
        this.#closeWith(new StreamResetError("ERR_SLOW_PEER", CODE_UNAVAILABLE, message)),
      );
    }
    if (this.role === "client") this.sendQuietly(encodeHello(this.#localHello(PROTOCOL_VERSION, MIN_PROTOCOL_VERSION)));
  }

  /** Resolves once HELLO was exchanged; rejects if the session closed first. */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** The peer's HELLO (undefined before the handshake). */
  get peer(): Hello | undefined {
    return this.#peer;
  }

  get channel(): Channel | undefined {
    return this.#channel;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Why the session closed (undefined while open or after a plain local close). */
  get closeError(): StreamResetError | undefined {
    return this.#closeError;
  }

  /** True once GOAWAY was sent or received: no new streams. */
  get draining(): boolean {
    return this.#goAwaySent || this.#goAwayReceived || this.#closed;
  }

  get activeStreams(): number {
    return this.#streams.size;
  }

  /**
   * Client: reserves a slot for one stream if one is free right now (and no call waits
   * for one). The reservation is taken by openStream(handler, true) or given back with
   * cancelReservation().
   */
  tryReserveSlot(): boolean {
    return this.#peer !== undefined && !this.draining && this.#slots.tryReserve();
  }

  /**
   * Client: waits in FIFO order for a slot under the peer's max_concurrent_streams.
   * Resolves true with the slot reserved (as tryReserveSlot()), false when `signal`
   * aborted or the session closed or began draining first (nothing reserved then).
   */
  reserveSlot(signal?: AbortSignal): Promise<boolean> {
    if (this.#peer === undefined || this.draining) return Promise.resolve(false);
    return this.#slots.reserve(signal);
  }

  /** Client: gives back a slot reserved for a stream that was never opened. */
  cancelReservation(): void {
    this.#slots.unreserve();
  }

  /**
   * @internal Server: the stream keeps its slot after it ended, until releaseSlot():
   * its handler still runs (the count of running handlers is what is bounded).
   */
  retainSlot(stream: Stream): void {
    stream.slotRetained = true;
  }

  /** @internal Server: the handler of `stream` settled. */
  releaseSlot(stream: Stream): void {
    if (!stream.slotRetained) return;
    stream.slotRetained = false;
    if (this.#streams.get(stream.id) === stream) return; // still open: forget() frees the slot
    this.#slots.settled();
    this.#slots.grant();
  }

  /**
   * Client: opens a stream (send CALL_START on it next). `reserved`: the caller holds a
   * slot from tryReserveSlot()/reserveSlot(), which the stream now takes.
   */
  openStream(handler: StreamHandler, reserved = false): Stream {
    if (this.#closed) throw this.#closeError ?? new StreamResetError("ERR_CONNECTION_CLOSED", CODE_UNAVAILABLE, "connection closed");
    if (this.draining) throw new StreamResetError("ERR_GOAWAY", CODE_UNAVAILABLE, "connection is draining (GOAWAY)");
    const peer = this.#peer;
    if (peer === undefined) throw new Error("openStream() before the handshake completed");
    if (this.#lastLocalId >= MAX_STREAM_ID) {
      throw new StreamResetError("ERR_GOAWAY", CODE_UNAVAILABLE, "stream ids exhausted on this connection");
    }
    const stream = new Stream(this, ++this.#lastLocalId, peer.initialWindowBytes, this.options.initialWindowBytes);
    stream.handler = handler;
    this.#addStream(stream);
    if (reserved) this.#slots.take();
    if (this.#lastLocalId >= MAX_STREAM_ID) this.#goAwayReceived = true;
    return stream;
  }

  /**
   * Starts draining: sends GOAWAY with the last stream id this side accepted; later
   * calls are refused (server). The session closes once no stream is left.
   */
  goAway(code = 0, message = ""): void {
    if (this.#closed || this.#goAwaySent) return;
    this.#goAwaySent = true;
    this.#slots.dropAll();
    this.sendQuietly(encodeGoAway(this.#lastPeerId, code, message));
    this.#closeIfDrained();
  }

  /**
   * Round trip of a PING, in milliseconds. Rejects with the abort reason when `signal`
   * aborts first (a PONG that comes later is then ignored), or when the session closes.
   */
  ping(signal?: AbortSignal): Promise<number> {
    if (this.#closed) return Promise.reject(this.#closeError);
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    const id = this.#nextPing++;
    return new Promise<number>((resolve, reject) => {
      if (signal === undefined) {
        this.#pings.set(id, { start: performance.now(), resolve, reject });
      } else {
        const onAbort = (): void => {
          this.#pings.delete(id);
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        const settled = (): void => signal.removeEventListener("abort", onAbort);
        this.#pings.set(id, {
          start: performance.now(),
          resolve: (rtt) => {
            settled();
            resolve(rtt);
          },
          reject: (e) => {
            settled();
            reject(e);
          },
        });
      }
      this.sendQuietly(encodePing(FrameKind.PING, id));
    });
  }

  /** Closes the session and its channel; streams are reset with `error` (or "closed"). */
  close(error?: StreamResetError): void {
    this.#closeWith(error ?? new StreamResetError("ERR_CONNECTION_CLOSED", CODE_UNAVAILABLE, "connection closed"));
  }

  stats(): SessionStats {
    const c = this.#channel?.stats() ?? this.#finalStats;
    const base = c ?? { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, reassembled: 0, reassembledBytes: 0 };
    return { ...base, streamsOpened: this.#streamsOpened };
  }

  /** @internal Holds the frame being dispatched. */
  holdCurrent(): Lease {
    const channel = this.#channel;
    if (this.#current === undefined || channel === undefined) throw new Error("hold() outside of frame delivery");
    return channel.hold(this.#current);
  }

  /**
   * @internal Queues a frame. Returns undefined when it was handed to the channel at
   * once, a promise when it waits for region space (rejects with ERR_REGION_FULL after
   * sendTimeoutMs, ERR_CHANNEL_CLOSED, or RangeError above maxFrameBytes).
   */
  send(out: OutFrame): Promise<void> | undefined {
    const channel = this.#channel;
    if (this.#closed || channel === undefined) {
      return Promise.reject(this.#closeError ?? errorWithCode("channel is closed", "ERR_CHANNEL_CLOSED"));
    }
    if (out.byteLength > channel.maxFrameBytes) {
      return Promise.reject(
        Object.assign(new RangeError(`frame of ${out.byteLength} bytes exceeds the channel's maxFrameBytes ${channel.maxFrameBytes}`), {
          code: "ERR_FRAME_TOO_LARGE",
        }),
      );
    }
    return this.#sendQueue.send(channel, out);
  }

  /** @internal send() for frames nobody awaits (control frames): failures are dropped. */
  sendQuietly(out: OutFrame): void {
    this.send(out)?.catch(() => undefined);
  }

  /** @internal A stream ended. */
  forget(stream: Stream): void {
    if (this.#streams.get(stream.id) !== stream) return;
    this.#streams.delete(stream.id);
    if (stream.slotRetained) this.#slots.linger();
    else this.#slots.grant();
    if (this.#streams.size === 0) {
      this.#channel?.keepAlive(false);
      this.#armIdle();
      this.#closeIfDrained();
    }
  }

  #addStream(stream: Stream): void {
    if (this.#streams.size === 0) this.#channel?.keepAlive(true);
    this.#streams.add(stream);
    this.#streamsOpened++;
  }

  #localHello(version: number, minVersion: number): Hello {
    return {
      version,
      minVersion,
      maxMessageBytes: this.options.maxMessageBytes,
      maxHeaderBytes: this.options.maxHeaderBytes,
      maxConcurrentStreams: this.options.maxConcurrentStreams,
      initialWindowBytes: this.options.initialWindowBytes,
    };
  }

  #onFrame(bytes: Uint8Array): void {
    if (this.#closed) return;
    let frame: Frame;
    try {
      frame = parseFrame(bytes, this.role === "client", this.options.maxHeaderBytes);
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
    if (this.#peer === undefined) {
      if (frame.kind === FrameKind.GOAWAY) {
        // A refusal instead of HELLO (no common version, a limit): its reason is the error.
        const code = frame.code === 0 ? CODE_UNAVAILABLE : frame.code;
        this.#closeWith(new StreamResetError("ERR_HANDSHAKE", code, `connection refused by peer: ${frame.message === "" ? "GOAWAY" : frame.message}`));
        return;
      }
      if (frame.kind !== FrameKind.HELLO) throw new ProtocolError(`expected HELLO, got frame kind ${frame.kind}`);
      this.#onHello(frame.hello);
      return;
    }
    switch (frame.kind) {
      case FrameKind.HELLO:
        throw new ProtocolError("second HELLO");
      case FrameKind.PING:
        this.#answerPing(frame.id);
        return;
      case FrameKind.PONG:
        this.#onPong(frame.id);
        return;
      case FrameKind.GOAWAY:
        this.#onGoAway(frame.lastStreamId, frame.code, frame.message);
        return;
      case FrameKind.CALL_START:
        this.#onCallStart(frame);
        return;
      default:
        this.#onStreamFrame(frame);
    }
  }

  /**
   * One PONG per PING while the channel takes them; while a PONG waits in the send queue
   * (the peer does not read), later PINGs only move its id forward: a PING flood costs
   * one queued frame, not one per PING (docs/PROTOCOL.md §3, PING / PONG).
   */
  #answerPing(id: number): void {
    const waiting = this.#pong;
    if (waiting !== undefined) {
      waiting.id = id;
      return;
    }
    const pong = { id };
    this.#pong = pong;
    const sent = this.send({
      byteLength: PING_FRAME_BYTES,
      write: (bytes) => {
        if (this.#pong === pong) this.#pong = undefined;
        encodePing(FrameKind.PONG, pong.id).write(bytes);
      },
    });
    if (sent === undefined) return;
    sent.catch(() => {
      if (this.#pong === pong) this.#pong = undefined;
    });
  }

  /**
   * A PONG answers its PING and every earlier one still waiting (a peer may coalesce). A
   * PONG for a PING this side sent but no longer waits for (abandoned, a probe) is fine.
   */
  #onPong(id: number): void {
    if (id === 0 || id >= this.#nextPing) throw new ProtocolError(`PONG ${id} without a PING`);
    const now = performance.now();
    for (const [pending, p] of this.#pings) {
      if (pending > id) continue;
      this.#pings.delete(pending);
      p.resolve(now - p.start);
    }
  }

  #onHello(hello: Hello): void {
    if (this.role === "server") {
      const version = Math.min(PROTOCOL_VERSION, hello.version);
      if (version < Math.max(MIN_PROTOCOL_VERSION, hello.minVersion)) {
        const message = `unsupported protocol version: peer speaks ${hello.minVersion}..${hello.version}, this server ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`;
        this.sendQuietly(encodeGoAway(0, CODE_FAILED_PRECONDITION, message));
        this.#closeWith(new StreamResetError("ERR_HANDSHAKE", CODE_FAILED_PRECONDITION, message));
        return;
      }
      this.#peer = hello;
      this.#sendQueue.maxQueued = maxQueuedFrames(Math.max(this.options.maxConcurrentStreams, hello.maxConcurrentStreams));
      this.sendQuietly(encodeHello(this.#localHello(version, version)));
    } else {
      if (hello.version > PROTOCOL_VERSION || hello.version < MIN_PROTOCOL_VERSION) {
        throw new ProtocolError(`server chose unsupported protocol version ${hello.version}`);
      }
      this.#peer = hello;
      this.#slots.limit = hello.maxConcurrentStreams;
      this.#sendQueue.maxQueued = maxQueuedFrames(Math.max(this.options.maxConcurrentStreams, hello.maxConcurrentStreams));
    }
    clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    // Idle from here until the first stream: the connection alone keeps no process alive.
    if (this.#streams.size === 0) this.#channel?.keepAlive(false);
    this.#armIdle();
    this.#startKeepalive();
    this.#ready.resolve();
  }

  #startKeepalive(): void {
    const { keepaliveMs, keepaliveTimeoutMs } = this.options;
    if (keepaliveMs <= 0) return;
    this.#keepalive = new Keepalive(keepaliveMs, keepaliveTimeoutMs, {
      framesIn: () => this.#channel?.stats().framesIn ?? 0,
      ping: (signal) => this.ping(signal),
      expired: (message) => this.#closeWith(new StreamResetError("ERR_KEEPALIVE", CODE_UNAVAILABLE, message)),
    });
    this.#keepalive.start();
  }

  #onGoAway(lastStreamId: number, code: number, message: string): void {
    this.#goAwayReceived = true;
    this.#slots.dropAll();
    if (code !== 0) this.#goAwayError = goAwayError(code, message);
    if (this.role === "client") {
      for (const stream of this.#streams.values()) {
        if (stream.id > lastStreamId) {
          const error = new StreamResetError("ERR_GOAWAY", CODE_UNAVAILABLE, `call refused: peer is shutting down (GOAWAY ${message})`.trim());
          stream.close(error);
          stream.handler?.onReset(error);
        }
      }
    }
    this.#closeIfDrained();
  }

  #onCallStart(frame: Extract<Frame, { kind: typeof FrameKind.CALL_START }>): void {
    if (this.role !== "server") throw new ProtocolError("CALL_START sent to a client");
    if (frame.streamId <= this.#lastPeerId) {
      throw new ProtocolError(`CALL_START stream id ${frame.streamId} not above previous ${this.#lastPeerId}`);
    }
    this.#lastPeerId = frame.streamId;
    const peer = this.#peer as Hello;
    if (this.#goAwaySent) {
      this.#refuse(frame.streamId, CODE_UNAVAILABLE, "server is shutting down");
      return;
    }
    // Ended streams whose handlers still run count too (StreamSlots says why).
    if (!this.#slots.free) {
      this.#refuse(frame.streamId, CODE_RESOURCE_EXHAUSTED, `too many concurrent streams (limit ${this.options.maxConcurrentStreams})`);
      return;
    }
    const stream = new Stream(this, frame.streamId, peer.initialWindowBytes, this.options.initialWindowBytes);
    if (frame.message !== undefined && !stream.received(frame.message.byteLength)) {
      throw new ProtocolError("flow-control window exceeded");
    }
    stream.remoteDone = frame.endStream;
    this.#addStream(stream);
    const onCall = this.#hooks.onCall;
    if (onCall === undefined) {
      stream.close();
      this.#refuse(frame.streamId, CODE_INTERNAL, "no call handler");
      return;
    }
    stream.handler = onCall(stream, frame);
  }

  /** Ends a call this session does not take with an error status. */
  #refuse(streamId: number, code: number, message: string): void {
    this.sendQuietly(
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
      const last = this.role === "client" ? this.#lastLocalId : this.#lastPeerId;
      if (frame.streamId <= last) return; // a stream that already ended: late frames are dropped
      throw new ProtocolError(`frame kind ${frame.kind} for unknown stream ${frame.streamId}`);
    }
    if (frame.kind === FrameKind.CREDIT) {
      stream.grant(frame.increment);
      return;
    }
    if (this.role === "client") this.#clientTransition(stream, frame);
    else this.#serverTransition(stream, frame);
    stream.handler?.onFrame(frame);
  }

  /** Frames from the server: HEADERS? MESSAGE* END, or CANCEL at any point. */
  #clientTransition(stream: Stream, frame: StreamFrame): void {
    switch (frame.kind) {
      case FrameKind.HEADERS:
        if (stream.headersReceived) throw new ProtocolError(`second HEADERS on stream ${stream.id}`);
        stream.headersReceived = true;
        if (frame.message !== undefined && !stream.received(frame.message.byteLength)) {
          throw new ProtocolError("flow-control window exceeded");
        }
        return;
      case FrameKind.MESSAGE:
        if (!stream.headersReceived) throw new ProtocolError(`MESSAGE before HEADERS on stream ${stream.id}`);
        if (!stream.received(frame.message.byteLength)) throw new ProtocolError("flow-control window exceeded");
        return;
      case FrameKind.END:
        if (frame.halfClose) throw new ProtocolError("client END sent by a server");
        if (frame.headers !== undefined && stream.headersReceived) {
          throw new ProtocolError(`END with headers after HEADERS on stream ${stream.id}`);
        }
        stream.remoteDone = true;
        stream.close();
        return;
      case FrameKind.CANCEL:
        stream.remoteDone = true;
        stream.close();
        return;
      default:
        throw new ProtocolError(`unexpected frame kind ${frame.kind} from a server`);
    }
  }

  /** Frames from the client after CALL_START: MESSAGE* END(half-close), or CANCEL. */
  #serverTransition(stream: Stream, frame: StreamFrame): void {
    switch (frame.kind) {
      case FrameKind.MESSAGE:
        if (stream.remoteDone) throw new ProtocolError(`MESSAGE after half-close on stream ${stream.id}`);
        if (!stream.received(frame.message.byteLength)) throw new ProtocolError("flow-control window exceeded");
        stream.remoteDone = frame.endStream;
        return;
      case FrameKind.END:
        if (stream.remoteDone) throw new ProtocolError(`second half-close on stream ${stream.id}`);
        stream.remoteDone = true;
        return;
      case FrameKind.CANCEL:
        stream.remoteDone = true;
        stream.close();
        return;
      default:
        throw new ProtocolError(`unexpected frame kind ${frame.kind} from a client`);
    }
  }

  /**
   * Server: the session became idle (no streams) now. One timer runs while idle periods
   * come and go; when it fires it checks whether the idle period that is current (if
   * any) has lasted idleTimeoutMs, else it waits for the rest of it. A timer per idle
   * period would cost a setTimeout and a clearTimeout per call at 1 call in flight.
   */
  #armIdle(): void {
    if (this.role !== "server" || this.options.idleTimeoutMs <= 0 || this.#closed || this.#peer === undefined) return;
    if (this.#streams.size > 0) return;
    this.#idleSince = performance.now();
    if (this.#idleTimer === undefined) this.#startIdleTimer(this.options.idleTimeoutMs);
  }

  #startIdleTimer(ms: number): void {
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#closed || this.#streams.size > 0) return; // the next idle period re-arms
      const rest = this.options.idleTimeoutMs - (performance.now() - this.#idleSince);
      if (rest <= 0) this.goAway(0, "idle timeout");
      else this.#startIdleTimer(Math.ceil(rest));
    }, ms);
    this.#idleTimer.unref?.();
  }

  #closeIfDrained(): void {
    if (this.#closed || this.#streams.size > 0) return;
    // Frames waiting for region space (an END, a CANCEL) go out before the channel closes.
    if (this.#sendQueue.length > 0) return;
    if (this.#goAwaySent || this.#goAwayReceived) {
      this.#closeWith(
        this.#goAwayError ?? new StreamResetError("ERR_GOAWAY", CODE_UNAVAILABLE, "connection drained (GOAWAY)"),
      );
    } else if (this.#peerEnded) {
      this.#closeWith(peerEndedError());
    }
  }

  /**
   * The peer ended its side of the channel (half-close): nothing more arrives. A stream
   * that still waits for the peer's frames (a client's every stream, a server call whose
   * requests did not all arrive) can never finish and is reset; a server call whose
   * requests are in keeps running and its answer still goes out (test/hostile/faults.test.ts).
   * The session closes as soon as no stream is left, so a peer that ended with nothing
   * pending is let go at once.
   */
  #onPeerEnd(): void {
    if (this.#closed || this.#peerEnded) return;
    this.#peerEnded = true;
    if (this.#peer === undefined) {
      this.#closeWith(peerEndedError());
      return;
    }
    const error = peerEndedError();
    for (const stream of this.#streams.values()) {
      if (stream.remoteDone) continue;
      stream.close(error);
      stream.handler?.onReset(error);
    }
    this.#closeIfDrained();
    this.#probePeerLater();
  }

  /** PINGs a peer that ended its side while calls run for it, every PEER_END_PROBE_MS. */
  #probePeerLater(): void {
    if (this.#closed) return;
    this.#probeTimer = setTimeout(() => {
      if (this.#closed) return;
      // Not in #pings: a peer that ended its side cannot answer.
      this.sendQuietly(encodePing(FrameKind.PING, this.#nextPing++));
      this.#probePeerLater();
    }, PEER_END_PROBE_MS);
    this.#probeTimer.unref?.();
  }

  #protocolError(e: unknown): void {
    if (this.#closed) return;
    const message = e instanceof Error ? e.message : String(e);
    const isProtocol = e instanceof ProtocolError;
    const text = isProtocol ? `protocol error: ${message}` : `internal error: ${message}`;
    this.sendQuietly(encodeGoAway(this.#lastPeerId, CODE_INTERNAL, text));
    this.#closeWith(new StreamResetError("ERR_PROTOCOL", CODE_INTERNAL, text, e));
  }

  #fail(error: StreamResetError): void {
    this.#closeWith(error);
  }

  #onChannelClose(error: Error | undefined): void {
    this.#finalStats = this.#channel?.stats();
    if (this.#closed) return;
    const reason =
      this.#goAwayError ??
      new StreamResetError(
        "ERR_CONNECTION_CLOSED",
        CODE_UNAVAILABLE,
        error === undefined ? "connection closed by peer" : `connection lost: ${error.message}`,
        error,
      );
    this.#closeWith(reason, false);
  }

  #closeWith(error: StreamResetError, closeChannel = true): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#probeTimer);
    this.#keepalive?.stop();
    this.#receiveWatchdog?.stop();
    this.#ready.reject(error);
    for (const stream of this.#streams.values()) {
      stream.close(error);
      stream.handler?.onReset(error);
    }
    for (const p of this.#pings.values()) p.reject(error);
    this.#pings.clear();
    this.#slots.dropAll();
    this.#sendQueue.close();
    if (closeChannel) {
      this.#finalStats = this.#channel?.stats();
      // One loop turn later: frames queued just before (GOAWAY, a last END) are handed to
      // the engine's flush first; engines whose close() drops unsent frames need this.
      const channel = this.#channel;
      // A peer that stopped reading (or answering) gets nothing more: its unsent frames are dropped.
      const discard = error.code === "ERR_SLOW_PEER" || error.code === "ERR_KEEPALIVE";
      if (channel !== undefined) setImmediate(() => channel.close(discard));
    }
    this.#hooks.onClose?.(error);
  }
}
