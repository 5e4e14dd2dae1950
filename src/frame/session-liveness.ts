// The watches a session keeps on a silent peer or a silent connection: on byte-stream
// channels, a bound on a frame left half-sent (receive-watchdog.ts); after the handshake,
// the optional keepalive (keepalive.ts); on a server with an idle timeout, GOAWAY after
// that long without streams (drain.ts, IdleTimer). All stop when the session closes.

import type { Channel } from "../channel/channel.js";
import { StatusCode } from "./constants.js";
import { IdleTimer } from "./drain.js";
import { Keepalive } from "./keepalive.js";
import { StreamResetError } from "./protocol-error.js";
import { ReceiveWatchdog } from "./receive-watchdog.js";
import type { ResolvedSessionOptions } from "./session-options.js";

/** What the watches need of their session. */
export interface LivenessHost {
  /** Established, not closed, and without streams. */
  idle(): boolean;
  /** Frames received so far on the connection. */
  framesIn(): number;
  ping(signal: AbortSignal): Promise<number>;
  goAway(code: number, message: string): void;
  /** Closes the session with `error`. */
  fail(error: StreamResetError): void;
}

/** The idle timer, keepalive and receive watchdog of one session. */
export class SessionLiveness {
  readonly #options: ResolvedSessionOptions;
  readonly #host: LivenessHost;
  /** Server with an idle timeout: GOAWAY after that long without streams. */
  readonly #idle: IdleTimer | undefined;
  #keepalive: Keepalive | undefined;
  #receiveWatchdog: ReceiveWatchdog | undefined;

  constructor(role: "client" | "server", options: ResolvedSessionOptions, host: LivenessHost) {
    this.#options = options;
    this.#host = host;
    if (role === "server" && options.idleTimeoutMs > 0) {
      this.#idle = new IdleTimer(options.idleTimeoutMs, () => host.idle(), () => host.goAway(0, "idle timeout"));
    }
  }

  /** The session's channel is there: byte-stream channels reassemble frames, and a peer must not park one half-sent. */
  watch(channel: Channel): void {
    if (channel.engine !== "uring" && channel.engine !== "net") return;
    this.#receiveWatchdog = new ReceiveWatchdog(channel, 2 * this.#options.sendTimeoutMs, (message) =>
      this.#host.fail(new StreamResetError("ERR_SLOW_PEER", StatusCode.UNAVAILABLE, message)),
    );
  }

  /** The handshake completed: the idle timer arms (if no stream), the keepalive starts. */
  established(): void {
    this.armIdle();
    const { keepaliveMs, keepaliveTimeoutMs } = this.#options;
    if (keepaliveMs <= 0) return;
    const host = this.#host;
    this.#keepalive = new Keepalive(keepaliveMs, keepaliveTimeoutMs, {
      framesIn: () => host.framesIn(),
      ping: (signal) => host.ping(signal),
      expired: (message) => host.fail(new StreamResetError("ERR_KEEPALIVE", StatusCode.UNAVAILABLE, message)),
    });
    this.#keepalive.start();
  }

  /** Server: the session may have become idle (no streams) now. */
  armIdle(): void {
    if (this.#idle !== undefined && this.#host.idle()) this.#idle.arm();
  }

  stop(): void {
    this.#idle?.stop();
    this.#keepalive?.stop();
    this.#receiveWatchdog?.stop();
  }
}
