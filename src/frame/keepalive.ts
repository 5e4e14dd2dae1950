// PING/PONG of a session and its keepalive. Pings: the PINGs this side waits for (a
// round trip each), and the PONG answering the peer's PINGs, coalesced while one waits
// for region space. Keepalive (optional, off by default; docs/LIMITS.md "keepalive"): a peer
// that went silent — its host died, a middlebox dropped the connection — is otherwise
// noticed only by a call's deadline. Every `intervalMs` the session checks whether any
// frame arrived since the last check; if none did, it sends a PING and closes the
// connection when its PONG does not come back within `timeoutMs`. Timers are unref'd: a
// keepalive never keeps a process alive.

import { FrameKind } from "./constants.js";
import { encodePing } from "./frames.js";
import type { OutFrame } from "./frames.js";
import { ProtocolError } from "./protocol-error.js";

/** Size of a PING/PONG frame. */
const PING_FRAME_BYTES = encodePing(FrameKind.PONG, 0).byteLength;

/** How the pings of a session reach its send queue. */
export interface PingSender {
  /** Queues a frame: undefined when handed to the channel at once, else a promise. */
  send(out: OutFrame): Promise<void> | undefined;
  /** send() for a frame nobody awaits. */
  sendQuietly(out: OutFrame): void;
}

interface PendingPing {
  start: number;
  resolve(rtt: number): void;
  reject(e: unknown): void;
}

/** The PINGs a session sent and the PONG it owes. */
export class Pings {
  readonly #sender: PingSender;
  readonly #pending = new Map<number, PendingPing>();
  #next = 1;
  /** The PONG waiting in the send queue, if any: later PINGs only update its id. */
  #pong: { id: number } | undefined;

  constructor(sender: PingSender) {
    this.#sender = sender;
  }

  /**
   * Round trip of a PING, in milliseconds. Rejects with the abort reason when `signal`
   * aborts first (a PONG that comes later is then ignored), or on rejectAll().
   */
  ping(signal?: AbortSignal): Promise<number> {
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    const id = this.#next++;
    return new Promise<number>((resolve, reject) => {
      if (signal === undefined) {
        this.#pending.set(id, { start: performance.now(), resolve, reject });
      } else {
        const onAbort = (): void => {
          this.#pending.delete(id);
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        const settled = (): void => signal.removeEventListener("abort", onAbort);
        this.#pending.set(id, {
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
      this.#sender.sendQuietly(encodePing(FrameKind.PING, id));
    });
  }

  /** A PING nobody waits for (a probe of a peer that cannot answer). */
  probe(): void {
    this.#sender.sendQuietly(encodePing(FrameKind.PING, this.#next++));
  }

  /**
   * A PONG answers its PING and every earlier one still waiting (a peer may coalesce). A
   * PONG for a PING this side sent but no longer waits for (abandoned, a probe) is fine.
   */
  onPong(id: number): void {
    if (id === 0 || id >= this.#next) throw new ProtocolError(`PONG ${id} without a PING`);
    const now = performance.now();
    for (const [pending, p] of this.#pending) {
      if (pending > id) continue;
      this.#pending.delete(pending);
      p.resolve(now - p.start);
    }
  }

  /**
   * One PONG per PING while the channel takes them; while a PONG waits in the send queue
   * (the peer does not read), later PINGs only move its id forward: a PING flood costs
   * one queued frame, not one per PING (docs/PROTOCOL.md §3, PING / PONG).
   */
  answer(id: number): void {
    const waiting = this.#pong;
    if (waiting !== undefined) {
      waiting.id = id;
      return;
    }
    const pong = { id };
    this.#pong = pong;
    const sent = this.#sender.send({
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

  /** The session closed: every waiting ping rejects with `error`. */
  rejectAll(error: unknown): void {
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }
}

/** What the keepalive needs from its session. */
export interface KeepaliveHooks {
  /** Frames received so far on the connection. */
  framesIn(): number;
  /** Sends a PING; resolves on its PONG, rejects when `signal` aborts or the session closes. */
  ping(signal: AbortSignal): Promise<number>;
  /** No PONG in time: close the connection with this message. */
  expired(message: string): void;
}

/** The keepalive timers of one session. */
export class Keepalive {
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #hooks: KeepaliveHooks;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #seen = -1;
  #stopped = false;
  #probe: AbortController | undefined;

  constructor(intervalMs: number, timeoutMs: number, hooks: KeepaliveHooks) {
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
    this.#hooks = hooks;
  }

  /** Starts checking (after the handshake). */
  start(): void {
    this.#seen = this.#hooks.framesIn();
    this.#arm(this.#intervalMs);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#probe?.abort();
  }

  #arm(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#check(), ms);
    this.#timer.unref?.();
  }

  #check(): void {
    const frames = this.#hooks.framesIn();
    if (frames !== this.#seen) {
      this.#seen = frames;
      this.#arm(this.#intervalMs);
      return;
    }
    const probe = new AbortController();
    this.#probe = probe;
    const timer = setTimeout(() => probe.abort(), this.#timeoutMs);
    timer.unref?.();
    this.#hooks.ping(probe.signal).then(
      () => {
        clearTimeout(timer);
        this.#seen = this.#hooks.framesIn();
        this.#arm(this.#intervalMs);
      },
      () => {
        clearTimeout(timer);
        if (this.#stopped) return;
        this.#hooks.expired(`no PONG within ${this.#timeoutMs} ms of a keepalive PING (peer silent for ${this.#intervalMs + this.#timeoutMs} ms)`);
      },
    );
  }
}
