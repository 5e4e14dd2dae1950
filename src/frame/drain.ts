// How a session winds down, apart from the coordinator: the errors its streams are reset
// with when it drains (GOAWAY) or the peer ends its side, the server's idle timer that
// starts a drain, and the probe that PINGs a peer which ended its side while calls still
// run for it. The session decides when; these own the timers and the wording.

import { StatusCode } from "./constants.js";
import { StreamResetError } from "./protocol-error.js";

/** What streams fail with when the peer ended its side of the channel. */
export function peerEndedError(): StreamResetError {
  return new StreamResetError("ERR_CONNECTION_CLOSED", StatusCode.UNAVAILABLE, "connection ended by peer");
}

/**
 * Client: what calls fail with when the server ended the connection before answering
 * HELLO. Nothing else ends a connection that early on purpose: the server refused it (a
 * unix:// server admits only the uids/gids of its `unix` option; a TLS server closes a
 * client that speaks plaintext, when the GOAWAY telling it why could not be written).
 */
export function refusedBeforeHelloError(cause?: Error): StreamResetError {
  return new StreamResetError(
    "ERR_CONNECTION_CLOSED",
    StatusCode.UNAVAILABLE,
    "the server refused the connection: it closed it before answering the handshake (a unix:// server admitting only the uids/gids of its unix option counts it in stats().refusedPeers; a TLS server that could not tell a plaintext client why closes it so)",
    cause,
  );
}

/** What calls fail with when the peer closed the connection with GOAWAY(code ≠ 0, message). */
export function goAwayError(code: number, message: string): StreamResetError {
  return new StreamResetError("ERR_PROTOCOL", code, `connection closed by peer: ${message === "" ? "error" : message}`);
}

/** What a session that drained (GOAWAY either way, code 0) closes with. */
export function drainedError(): StreamResetError {
  return new StreamResetError("ERR_GOAWAY", StatusCode.UNAVAILABLE, "connection drained (GOAWAY)");
}

/** A client stream above the peer's GOAWAY last stream id: the server never saw it. */
export function refusedByGoAwayError(message: string): StreamResetError {
  return new StreamResetError("ERR_GOAWAY", StatusCode.UNAVAILABLE, `call refused: peer is shutting down (GOAWAY ${message})`.trim());
}

/**
 * Server: GOAWAY after `timeoutMs` without streams. One timer runs while idle periods
 * come and go; when it fires it checks whether the idle period that is current (if any)
 * has lasted timeoutMs, else it waits for the rest of it. A timer per idle period would
 * cost a setTimeout and a clearTimeout per call at 1 call in flight.
 */
export class IdleTimer {
  readonly #timeoutMs: number;
  /** True while the session is idle (open, no streams). */
  readonly #idle: () => boolean;
  readonly #expired: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the current idle period began (performance.now()). */
  #since = 0;

  constructor(timeoutMs: number, idle: () => boolean, expired: () => void) {
    this.#timeoutMs = timeoutMs;
    this.#idle = idle;
    this.#expired = expired;
  }

  /** An idle period begins now. */
  arm(): void {
    this.#since = performance.now();
    if (this.#timer === undefined) this.#start(this.#timeoutMs);
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  #start(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#idle()) return; // the next idle period re-arms
      const rest = this.#timeoutMs - (performance.now() - this.#since);
      if (rest <= 0) this.#expired();
      else this.#start(Math.ceil(rest));
    }, ms);
    this.#timer.unref?.();
  }
}

/**
 * While calls run for a peer that ended its side, how often it is PINGed. A killed
 * process's kernel also sends FIN; only data sent to it tells the two apart (it answers
 * with RST, and the send after that fails: onClose(error) resets the calls).
 */
export const PEER_END_PROBE_MS = 250;

/** PINGs a peer that ended its side, every PEER_END_PROBE_MS until stopped. */
export class PeerEndProbe {
  readonly #probe: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  /** `probe` sends one PING (not awaited: a peer that ended its side cannot answer). */
  constructor(probe: () => void) {
    this.#probe = probe;
  }

  start(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      if (this.#stopped) return;
      this.#probe();
      this.start();
    }, PEER_END_PROBE_MS);
    this.#timer.unref?.();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
