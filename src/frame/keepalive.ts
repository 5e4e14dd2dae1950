// Keepalive of a session (optional, off by default; docs/LIMITS.md "keepalive"): a peer
// that went silent — its host died, a middlebox dropped the connection — is otherwise
// noticed only by a call's deadline. Every `intervalMs` the session checks whether any
// frame arrived since the last check; if none did, it sends a PING and closes the
// connection when its PONG does not come back within `timeoutMs`. Timers are unref'd: a
// keepalive never keeps a process alive.

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
