// A protocol session over one channel, the coordinator of its parts: the handshake
// (session-handshake.ts), the routing of received frames (session-receive.ts), the drain
// on GOAWAY or a peer's end (session-drain.ts), the watches on a silent peer
// (session-liveness.ts), PING/PONG (keepalive.ts) and its streams (stream.ts). It owns
// the stream table, the stream slots (stream-slots.ts) and the send queue (send-queue.ts)
// that turns a full region into back-pressure (bounded waits, then ERR_REGION_FULL), and
// closes: its streams are reset with the reason, then the channel closes. The exchange
// is docs/PROTOCOL.md §4: HELLO (and AUTH), then streams opened with CALL_START (ids
// increase) carrying MESSAGE / CREDIT / END / CANCEL, PING answered with PONG, GOAWAY to drain.

import type { Channel, ChannelEngine, ChannelEvents, ChannelStats, Lease } from "../channel/channel.js";
import { emptyChannelStats } from "../channel/channel-stats.js";
import { codedError } from "../errors.js";
import type { AuthFailure } from "./auth-handshake.js";
import { MAX_STREAM_ID, StatusCode } from "./constants.js";
import type { Hello, OutFrame } from "./frames.js";
import { maxQueuedFrames } from "./handshake.js";
import { Pings } from "./keepalive.js";
import { StreamResetError } from "./protocol-error.js";
import { SendQueue } from "./send-queue.js";
import { SessionDrain } from "./session-drain.js";
import type { DrainHost } from "./session-drain.js";
import { SessionHandshake } from "./session-handshake.js";
import { SessionLiveness } from "./session-liveness.js";
import { FrameReceiver } from "./session-receive.js";
import type { CallHandler } from "./session-receive.js";
import { resolvedOptions } from "./session-options.js";
import type { ResolvedSessionOptions, SessionOptions, SessionStats } from "./session-options.js";
import { Stream } from "./stream.js";
import type { StreamHandler, StreamHost } from "./stream.js";
import { StreamSlots } from "./stream-slots.js";
import { StreamTable } from "./stream-table.js";
import { releaseWhenIdle } from "./idle-release.js";
import type { IdleRelease } from "./idle-release.js";

const CODE_UNAVAILABLE = StatusCode.UNAVAILABLE;

export type { SessionOptions, SessionStats } from "./session-options.js";
export type { CallHandler } from "./session-receive.js";

interface SessionHooks {
  onCall?: CallHandler;
  /** Once, when the session ended, with the error its streams were reset with. */
  onClose?: (error: StreamResetError) => void;
  /** Server with `serverAuth`: once, when the session ended before the handshake authenticated it. */
  onAuthFailure?: (failure: AuthFailure) => void;
}

/** A protocol session on one channel. */
export class Session implements StreamHost, DrainHost {
  readonly role: "client" | "server";
  readonly options: ResolvedSessionOptions;
  readonly #hooks: SessionHooks;
  #channel: Channel | undefined;
  #peer: Hello | undefined;
  readonly #handshake: SessionHandshake;
  /** Lets go of the event loop shortly after the last stream ended, if none is open then. */
  readonly #loopRelease: IdleRelease = {
    releaseIfIdle: () => {
      if (this.#streams.size === 0) this.#channel?.keepAlive(false);
    },
  };
  readonly #liveness: SessionLiveness;
  readonly #streams = new StreamTable<Stream>();
  #lastLocalId = 0;
  readonly #receiver: FrameReceiver;
  readonly #sendQueue: SendQueue;
  readonly #pings: Pings = new Pings(this);
  readonly #drain: SessionDrain;
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
    this.#liveness = new SessionLiveness(role, this.options, {
      idle: () => !this.#closed && this.#peer !== undefined && this.#streams.size === 0,
      framesIn: () => this.#channel?.stats().framesIn ?? 0,
      ping: (signal) => this.ping(signal),
      goAway: (code, message) => this.goAway(code, message),
      fail: (error) => this.#closeWith(error),
    });
    this.#drain = new SessionDrain(this, this.#streams, this.#slots);
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
        drained: () => this.#drain.closeIfDrained(),
      },
      this.options.sendTimeoutMs,
      maxQueuedFrames(this.options.maxConcurrentStreams),
    );
    this.#handshake = new SessionHandshake(
      {
        role,
        options: this.options,
        sendQuietly: (out) => this.sendQuietly(out),
        fail: (error) => this.#closeWith(error),
        limitsKnown: (hello) => {
          this.#sendQueue.maxQueued = maxQueuedFrames(Math.max(this.options.maxConcurrentStreams, hello.maxConcurrentStreams));
        },
        established: (hello) => this.#established(hello),
      },
      hooks.onAuthFailure,
    );
    this.#receiver = new FrameReceiver(
      role,
      this.options,
      {
        get closed() {
          return session.#closed;
        },
        get channel() {
          return session.#channel;
        },
        get peer() {
          return session.#peer;
        },
        get goAwaySent() {
          return session.#drain.goAwaySent;
        },
        get lastLocalId() {
          return session.#lastLocalId;
        },
        newStream: (id, peer) => new Stream(this, id, peer.initialWindowBytes, this.options.initialWindowBytes),
        addStream: (stream) => this.#addStream(stream),
        onGoAway: (lastStreamId, code, message) => this.#drain.onGoAway(lastStreamId, code, message),
        sendQuietly: (out) => this.sendQuietly(out),
        fail: (error) => this.#closeWith(error),
      },
      { streams: this.#streams, slots: this.#slots, handshake: this.#handshake, pings: this.#pings, onCall: hooks.onCall },
    );
    this.events = {
      onFrame: (frame) => this.#receiver.onFrame(frame),
      onFrameAt: (memory, offset, length) => this.#receiver.onFrameAt(memory, offset, length),
      onEnd: () => this.#drain.onPeerEnd(),
      onClose: (error) => this.#onChannelClose(error),
    };
  }

  /** Connects a client session and completes the handshake. */
  /**
   * A client session over a new connection of `engine` to `url`; resolves once the
   * handshake is done. `opening` gets the session at once: closing it ends the setup
   * (the promise rejects), as a transport closed meanwhile does.
   */
  static async connect(
    engine: ChannelEngine,
    url: string,
    options: SessionOptions,
    hooks?: SessionHooks,
    opening?: (session: Session) => void,
  ): Promise<Session> {
    const session = new Session("client", options, hooks);
    opening?.(session);
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
    this.#liveness.watch(channel);
    this.#handshake.start();
  }

  /** Resolves once HELLO was exchanged; rejects if the session closed first. */
  get ready(): Promise<void> {
    return this.#handshake.ready;
  }

  /** The peer's HELLO (undefined before the handshake). */
  get peer(): Hello | undefined {
    return this.#peer;
  }

  /** The key id both sides proved in the handshake (undefined without authentication, or before it). */
  get authenticatedKeyId(): string | undefined {
    return this.#handshake.keyId;
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
    return this.#drain.draining || this.#closed;
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
    if (this.#lastLocalId >= MAX_STREAM_ID) this.#drain.idsExhausted();
    return stream;
  }

  /**
   * Starts draining: sends GOAWAY with the last stream id this side accepted; later
   * calls are refused (server). The session closes once no stream is left.
   */
  goAway(code = 0, message = ""): void {
    this.#drain.goAway(code, message);
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

  /** @internal Frames waiting for region space. */
  get queuedFrames(): number {
    return this.#sendQueue.length;
  }

  /** @internal Server: the id of the last stream the peer started. */
  get lastPeerId(): number {
    return this.#receiver.lastPeerId;
  }

  /** @internal PINGs the peer (drain.ts, PeerEndProbe). */
  probePeer(): void {
    this.#pings.probe();
  }

  /** @internal Holds the frame being dispatched. */
  holdCurrent(): Lease {
    return this.#receiver.holdCurrent();
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
      releaseWhenIdle(this.#loopRelease);
      this.#liveness.armIdle();
      this.#drain.closeIfDrained();
    }
  }

  #addStream(stream: Stream): void {
    if (this.#streams.size === 0) this.#channel?.keepAlive(true);
    this.#streams.add(stream);
    this.#streamsOpened++;
  }

  /** The handshake completed: calls may start. */
  #established(hello: Hello): void {
    this.#peer = hello;
    if (this.role === "client") this.#slots.limit = hello.maxConcurrentStreams;
    // Idle from here until the first stream: the connection alone keeps no process alive.
    if (this.#streams.size === 0) this.#channel?.keepAlive(false);
    this.#liveness.established();
  }

  #onChannelClose(error: Error | undefined): void {
    this.#finalStats = this.#channel?.stats();
    if (this.#closed) return;
    this.#closeWith(this.#drain.channelClosedError(error), false);
  }

  #closeWith(error: StreamResetError, closeChannel = true): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.#handshake.closed(error, this.#peer === undefined && !this.#drain.goAwaySent);
    this.#liveness.stop();
    this.#drain.stop();
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
      // A peer that stopped reading (or answering) gets nothing more: its unsent frames are
      // dropped. So does a server that never answered our HELLO: nothing of ours is worth
      // waiting for its FIN (a lingering close would hold transport.close() for CLOSE_DRAIN_MS).
      const discard =
        error.code === "ERR_SLOW_PEER" || error.code === "ERR_KEEPALIVE" || (this.role === "client" && this.#peer === undefined);
      if (channel !== undefined) setImmediate(() => channel.close(discard));
    }
    this.#hooks.onClose?.(error);
  }
}
