// A protocol session over one channel, the coordinator of its parts: it routes each
// received frame (parsed by parse-frame.ts) to the handshake (handshake.ts), the PING/PONG
// bookkeeping (keepalive.ts), the drain on GOAWAY (drain.ts) or a stream, whose received
// frames move by the transitions of receive-transitions.ts; it owns the stream table,
// the stream slots (stream-slots.ts) and the send queue (send-queue.ts) that turns a
// full region into back-pressure (bounded waits, then ERR_REGION_FULL). A malformed frame
// or a state violation closes this session only: GOAWAY with the reason, then the
// channel; its streams are reset with that reason. Silent peers: an optional keepalive
// (keepalive.ts) and, on byte-stream channels, a bound on a frame left half-sent
// (receive-watchdog.ts).
//
// The exchange (docs/PROTOCOL.md §4):
//   1. client connects and sends HELLO (versions, its limits; with `auth` its key id and nonce)
//   2. server answers HELLO (chosen version, its limits; with `auth` its nonce and proof),
//      or GOAWAY if none fits or the key is refused (the client then fails with the
//      GOAWAY's code and message); with `auth` the client checks the server's proof and
//      sends AUTH (its proof) before any call, and the server takes calls only after a
//      valid AUTH (auth-handshake.ts decides each step)
//   3. client opens streams with CALL_START (ids increase), both sides send MESSAGE /
//      CREDIT, the client half-closes with END (or a flag), the server ends with END
//   4. either side may CANCEL a stream; PING is answered with PONG
//   5. GOAWAY(last stream id) drains: no new streams; the session closes when idle
//   6. the peer may end its side of the channel (half-close, onEnd): streams still
//      waiting for its frames are reset, the others finish (the peer is PINGed meanwhile:
//      a dead peer's kernel answers with a reset), then the session closes

import type { Channel, ChannelEngine, ChannelEvents, ChannelStats, Lease } from "../channel/channel.js";
import { emptyChannelStats } from "../channel/channel-stats.js";
import { codedError } from "../errors.js";
import { FrameKind, MAX_STREAM_ID, StatusCode } from "./constants.js";
import { IdleTimer, PeerEndProbe, drainedError, goAwayError, peerEndedError, refusedBeforeHelloError, refusedByGoAwayError } from "./drain.js";
import { authRequest, checkClientProof, clientAuthCheck, serverAuthStep } from "./auth-handshake.js";
import type { AuthFailure, AuthFailureReason, AuthRefusal, PendingAuth } from "./auth-handshake.js";
import { encodeAuth, encodeEnd, encodeGoAway, encodeHello } from "./frames.js";
import { parseFrame } from "./parse-frame.js";
import type { AuthRequest, Frame, Hello, OutFrame } from "./frames.js";
import { answerHello, checkServerHello, clientHello, maxQueuedFrames } from "./handshake.js";
import { Keepalive, Pings } from "./keepalive.js";
import { prepareMetadata } from "./metadata.js";
import { ProtocolError, StreamResetError } from "./protocol-error.js";
import { clientReceive, serverReceive, serverStart } from "./receive-transitions.js";
import { ReceiveWatchdog } from "./receive-watchdog.js";
import { SendQueue } from "./send-queue.js";
import { resolvedOptions } from "./session-options.js";
import type { ResolvedSessionOptions, SessionOptions, SessionStats } from "./session-options.js";
import { Stream } from "./stream.js";
import type { StreamHandler, StreamHost } from "./stream.js";
import { StreamSlots } from "./stream-slots.js";
import { StreamTable } from "./stream-table.js";
import { atTurnEnd } from "./turn-end.js";
import type { TurnEndTask } from "./turn-end.js";

const CODE_UNAVAILABLE = StatusCode.UNAVAILABLE;
const CODE_UNAUTHENTICATED = StatusCode.UNAUTHENTICATED;

export type { SessionOptions, SessionStats } from "./session-options.js";

/** Called by a server session for each new call; returns the stream's handler. */
export type CallHandler = (stream: Stream, start: Extract<Frame, { kind: typeof FrameKind.CALL_START }>) => StreamHandler;

interface SessionHooks {
  onCall?: CallHandler;
  /** Once, when the session ended, with the error its streams were reset with. */
  onClose?: (error: StreamResetError) => void;
  /** Server with `serverAuth`: once, when the session ended before the handshake authenticated it. */
  onAuthFailure?: (failure: AuthFailure) => void;
}

/** A protocol session on one channel. */
export class Session implements StreamHost {
  readonly role: "client" | "server";
  readonly options: ResolvedSessionOptions;
  readonly #hooks: SessionHooks;
  #channel: Channel | undefined;
  #peer: Hello | undefined;
  /** Client with auth: what its HELLO asked. */
  #authRequest: AuthRequest | undefined;
  /** Server: the peer's HELLO while its AUTH is awaited. */
  #pendingAuth: { hello: Hello; auth: PendingAuth } | undefined;
  /** Why the handshake failed, when a step knew (else #closeWith infers it). */
  #authFailure: AuthFailure | undefined;
  #keyId: string | undefined;
  #ready: { promise: Promise<void>; resolve(): void; reject(e: unknown): void };
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Lets go of the event loop at the end of the turn in which the last stream ended, if none started since. */
  readonly #loopRelease: TurnEndTask = {
    runAtTurnEnd: () => {
      if (this.#streams.size === 0) this.#channel?.keepAlive(false);
    },
  };
  /** Server with an idle timeout: GOAWAY after that long without streams. */
  readonly #idle: IdleTimer | undefined;
  readonly #streams = new StreamTable<Stream>();
  #lastLocalId = 0;
  #lastPeerId = 0;
  #current: Uint8Array | undefined;
  readonly #sendQueue: SendQueue;
  readonly #pings: Pings = new Pings(this);
  #goAwaySent = false;
  #goAwayReceived = false;
  #goAwayError: StreamResetError | undefined;
  #peerEnded = false;
  #peerEndProbe: PeerEndProbe | undefined;
  #keepalive: Keepalive | undefined;
  #receiveWatchdog: ReceiveWatchdog | undefined;
  #closed = false;
  #closeError: StreamResetError | undefined;
  readonly #slots: StreamSlots;
  #streamsOpened = 0;
  #finalStats: ChannelStats | undefined;
  /** The channel callbacks of this session. */
  readonly events: ChannelEvents;

  constructor(role: "client" | "server", options: SessionOptions, hooks: SessionHooks = {}) {
    this.role = role;
    this.options = resolvedOptions(options);
    this.#hooks = hooks;
    this.#slots = new StreamSlots(() => this.#streams.size, this.options.maxConcurrentStreams);
    if (role === "server" && this.options.idleTimeoutMs > 0) {
      this.#idle = new IdleTimer(
        this.options.idleTimeoutMs,
        () => !this.#closed && this.#streams.size === 0,
        () => this.goAway(0, "idle timeout"),
      );
    }
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
      this.#authFailure ??= this.#failureOf("timeout");
      this.#fail(new StreamResetError("ERR_HANDSHAKE", CODE_UNAVAILABLE, `handshake not completed within ${this.options.handshakeTimeoutMs} ms`));
    }, this.options.handshakeTimeoutMs);
    // Byte-stream channels reassemble frames: a peer must not park one half-sent.
    if (channel.engine === "uring" || channel.engine === "net") {
      this.#receiveWatchdog = new ReceiveWatchdog(channel, 2 * this.options.sendTimeoutMs, (message) =>
        this.#closeWith(new StreamResetError("ERR_SLOW_PEER", CODE_UNAVAILABLE, message)),
      );
    }
    if (this.role === "client") {
      const auth = this.options.clientAuth;
      this.#authRequest = auth !== undefined ? authRequest(auth) : undefined;
      this.sendQuietly(encodeHello({ ...clientHello(this.options), ...(this.#authRequest !== undefined ? { authRequest: this.#authRequest } : {}) }));
    }
  }

  /** Resolves once HELLO was exchanged; rejects if the session closed first. */
  get ready(): Promise<void> {
    return this.#ready.promise;
  }

  /** The peer's HELLO (undefined before the handshake). */
  get peer(): Hello | undefined {
    return this.#peer;
  }

  /** The key id both sides proved in the handshake (undefined without authentication, or before it). */
  get authenticatedKeyId(): string | undefined {
    return this.#keyId;
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
    return this.#pings.ping(signal);
  }

  /** Closes the session and its channel; streams are reset with `error` (or "closed"). */
  close(error?: StreamResetError): void {
    this.#closeWith(error ?? new StreamResetError("ERR_CONNECTION_CLOSED", CODE_UNAVAILABLE, "connection closed"));
  }

  stats(): SessionStats {
    const c = this.#channel?.stats() ?? this.#finalStats;
    const base = c ?? emptyChannelStats();
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
      return Promise.reject(this.#closeError ?? codedError("ERR_CHANNEL_CLOSED", "channel is closed"));
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
      atTurnEnd(this.#loopRelease);
      this.#armIdle();
      this.#closeIfDrained();
    }
  }

  #addStream(stream: Stream): void {
    if (this.#streams.size === 0) this.#channel?.keepAlive(true);
    this.#streams.add(stream);
    this.#streamsOpened++;
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
        // A refusal instead of HELLO (no common version, a limit, a key): its reason is the
        // error. From a client awaiting AUTH: it found the server's proof wrong.
        const code = frame.code === 0 ? CODE_UNAVAILABLE : frame.code;
        if (this.#pendingAuth !== undefined && code === CODE_UNAUTHENTICATED) this.#authFailure = this.#failureOf("proof-rejected");
        this.#closeWith(new StreamResetError("ERR_HANDSHAKE", code, `connection refused by peer: ${frame.message === "" ? "GOAWAY" : frame.message}`));
        return;
      }
      if (this.#pendingAuth !== undefined) {
        if (frame.kind !== FrameKind.AUTH) throw new ProtocolError(`expected AUTH, got frame kind ${frame.kind}`);
        this.#onAuth(this.#pendingAuth, frame.proof);
        return;
      }
      if (frame.kind !== FrameKind.HELLO) throw new ProtocolError(`expected HELLO, got frame kind ${frame.kind}`);
      this.#onHello(frame.hello);
      return;
    }
    switch (frame.kind) {
      case FrameKind.HELLO:
        throw new ProtocolError("second HELLO");
      case FrameKind.AUTH:
        throw new ProtocolError("AUTH after the handshake");
      case FrameKind.PING:
        this.#pings.answer(frame.id);
        return;
      case FrameKind.PONG:
        this.#pings.onPong(frame.id);
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

  #onHello(hello: Hello): void {
    if (this.role === "server") {
      const answer = answerHello(this.options, hello);
      if (!answer.accept) {
        this.#authFailure = this.#failureOf("unsupported-version");
        this.sendQuietly(encodeGoAway(0, StatusCode.FAILED_PRECONDITION, answer.message));
        this.#closeWith(new StreamResetError("ERR_HANDSHAKE", StatusCode.FAILED_PRECONDITION, answer.message));
        return;
      }
      const step = serverAuthStep(this.options.serverAuth, hello.authRequest, answer.version);
      if (step.kind === "refuse") {
        this.#refuseAuth(step.refusal);
        return;
      }
      this.#sendQueue.maxQueued = maxQueuedFrames(Math.max(this.options.maxConcurrentStreams, hello.maxConcurrentStreams));
      if (step.kind === "challenge") {
        // No call is taken (and no peer set) until the client's AUTH proves the key.
        this.#pendingAuth = { hello, auth: step.pending };
        this.sendQuietly(encodeHello({ ...answer.hello, authAnswer: step.answer }));
        return;
      }
      this.#peer = hello;
      this.sendQuietly(encodeHello(answer.hello));
    } else {
      checkServerHello(hello);
      const check = clientAuthCheck(this.options.clientAuth, this.#authRequest, hello.authAnswer, hello.version);
      if (!check.ok) {
        // The server learns why, then the connection closes: no call was sent.
        this.sendQuietly(encodeGoAway(0, CODE_UNAUTHENTICATED, check.message));
        this.#closeWith(new StreamResetError("ERR_HANDSHAKE", CODE_UNAUTHENTICATED, check.message));
        return;
      }
      this.#peer = hello;
      this.#keyId = check.proof !== undefined ? this.#authRequest?.keyId : undefined;
      this.#slots.limit = hello.maxConcurrentStreams;
      this.#sendQueue.maxQueued = maxQueuedFrames(Math.max(this.options.maxConcurrentStreams, hello.maxConcurrentStreams));
      // Queued ahead of every CALL_START: the server reads AUTH first.
      if (check.proof !== undefined) this.sendQuietly(encodeAuth(check.proof));
    }
    this.#handshakeDone();
  }

  /** Server: the client's AUTH for the challenge it was sent. */
  #onAuth(pending: { hello: Hello; auth: PendingAuth }, proof: Uint8Array): void {
    const refusal = checkClientProof(pending.auth, proof);
    if (refusal !== undefined) {
      this.#refuseAuth(refusal);
      return;
    }
    this.#pendingAuth = undefined;
    this.#keyId = pending.auth.transcript.keyId;
    this.#peer = pending.hello;
    this.#handshakeDone();
  }

  /** Server: GOAWAY(Unauthenticated) with the refusal's message, then close. */
  #refuseAuth(refusal: AuthRefusal): void {
    this.#authFailure = refusal.keyId !== undefined ? { reason: refusal.reason, keyId: refusal.keyId } : { reason: refusal.reason };
    this.sendQuietly(encodeGoAway(0, CODE_UNAUTHENTICATED, refusal.message));
    this.#closeWith(new StreamResetError("ERR_HANDSHAKE", CODE_UNAUTHENTICATED, refusal.message));
  }

  /** A failure for `reason`, with the key id of a challenge in progress. */
  #failureOf(reason: AuthFailureReason): AuthFailure {
    const keyId = this.#pendingAuth?.auth.transcript.keyId;
    return keyId !== undefined ? { reason, keyId } : { reason };
  }

  /** Both HELLOs (and AUTH, with authentication) went through: calls may start. */
  #handshakeDone(): void {
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
          // A server that refused this side's AUTH: the calls fail for that reason, not as retryable.
          const error = code === CODE_UNAUTHENTICATED ? goAwayError(code, message) : refusedByGoAwayError(message);
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
      this.#refuse(frame.streamId, StatusCode.RESOURCE_EXHAUSTED, `too many concurrent streams (limit ${this.options.maxConcurrentStreams})`);
      return;
    }
    const stream = new Stream(this, frame.streamId, peer.initialWindowBytes, this.options.initialWindowBytes);
    if (!stream.receive(serverStart(frame))) throw new ProtocolError("flow-control window exceeded");
    this.#addStream(stream);
    const onCall = this.#hooks.onCall;
    if (onCall === undefined) {
      stream.close();
      this.#refuse(frame.streamId, StatusCode.INTERNAL, "no call handler");
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
    const transition = this.role === "client" ? clientReceive(stream.id, stream, frame) : serverReceive(stream.id, stream, frame);
    if (!stream.receive(transition)) throw new ProtocolError("flow-control window exceeded");
    stream.handler?.onFrame(frame);
  }

  /** Server: the session became idle (no streams) now. */
  #armIdle(): void {
    if (this.#idle === undefined || this.#closed || this.#peer === undefined) return;
    if (this.#streams.size > 0) return;
    this.#idle.arm();
  }

  #closeIfDrained(): void {
    if (this.#closed || this.#streams.size > 0) return;
    // Frames waiting for region space (an END, a CANCEL) go out before the channel closes.
    if (this.#sendQueue.length > 0) return;
    if (this.#goAwaySent || this.#goAwayReceived) {
      this.#closeWith(this.#goAwayError ?? drainedError());
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
      this.#closeWith(this.role === "client" ? refusedBeforeHelloError() : peerEndedError());
      return;
    }
    const error = peerEndedError();
    for (const stream of this.#streams.values()) {
      if (stream.remoteDone) continue;
      stream.close(error);
      stream.handler?.onReset(error);
    }
    this.#closeIfDrained();
    if (this.#closed) return;
    // While calls run for it (drain.ts, PEER_END_PROBE_MS says why).
    this.#peerEndProbe = new PeerEndProbe(() => this.#pings.probe());
    this.#peerEndProbe.start();
  }

  #protocolError(e: unknown): void {
    if (this.#closed) return;
    const message = e instanceof Error ? e.message : String(e);
    const isProtocol = e instanceof ProtocolError;
    const text = isProtocol ? `protocol error: ${message}` : `internal error: ${message}`;
    this.sendQuietly(encodeGoAway(this.#lastPeerId, StatusCode.INTERNAL, text));
    this.#closeWith(new StreamResetError("ERR_PROTOCOL", StatusCode.INTERNAL, text, e));
  }

  #fail(error: StreamResetError): void {
    this.#closeWith(error);
  }

  #onChannelClose(error: Error | undefined): void {
    this.#finalStats = this.#channel?.stats();
    if (this.#closed) return;
    // A server closing a connection before answering HELLO refused it. A socket closed
    // with our HELLO unread reports ECONNRESET (or EPIPE on our send): the same refusal.
    const code = (error as { code?: unknown } | undefined)?.code;
    const refused = this.role === "client" && this.#peer === undefined && (error === undefined || code === "ECONNRESET" || code === "EPIPE");
    const reason =
      this.#goAwayError ??
      (refused
        ? refusedBeforeHelloError(error)
        : new StreamResetError(
            "ERR_CONNECTION_CLOSED",
            CODE_UNAVAILABLE,
            error === undefined ? "connection closed by peer" : `connection lost: ${error.message}`,
            error,
          ));
    this.#closeWith(reason, false);
  }

  #closeWith(error: StreamResetError, closeChannel = true): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    clearTimeout(this.#handshakeTimer);
    this.#reportAuthFailure(error);
    this.#idle?.stop();
    this.#peerEndProbe?.stop();
    this.#keepalive?.stop();
    this.#receiveWatchdog?.stop();
    this.#ready.reject(error);
    for (const stream of this.#streams.values()) {
      stream.close(error);
      stream.handler?.onReset(error);
    }
    this.#pings.rejectAll(error);
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

  /**
   * Server with keys: a connection that ends before it was authenticated is a failure,
   * unless this side ended it (shutdown). The reason is the step's, else the close's.
   */
  #reportAuthFailure(error: StreamResetError): void {
    if (this.role !== "server" || this.options.serverAuth === undefined || this.#peer !== undefined || this.#goAwaySent) return;
    const inferred = error.code === "ERR_PROTOCOL" ? "malformed" : error.code === "ERR_SLOW_PEER" ? "timeout" : "closed";
    this.#hooks.onAuthFailure?.(this.#authFailure ?? this.#failureOf(inferred));
  }
}
