// The connection of a transport: the engine (given, or created for the URL on first use
// and then owned), the current session (opened lazily, reopened after it drains or
// drops), a stream slot reserved for each call, and the stats of the sessions that ended.
// ConnectRdmaTransport (transport.ts) runs the calls over what this hands it.

import { Code, ConnectError } from "@connectrpc/connect";
import { getAbortSignalReason } from "@connectrpc/connect/protocol";
import type { ChannelEngine, ChannelStats } from "../channel/channel.js";
import { engineForUrl } from "../channel/engines.js";
import type { EngineOptions } from "../channel/engines.js";
import { StreamResetError } from "../frame/protocol-error.js";
import { Session } from "../frame/session.js";
import type { SessionOptions } from "../frame/session.js";
import { toConnectError } from "./errors.js";
import { addChannelStats, emptyChannelStats } from "./stats.js";
import { refusedByTlsPeer } from "./tls-refusal.js";
import type { UringTransportOptions } from "./transport-options.js";

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(getAbortSignalReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(getAbortSignalReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** The engine and sessions of one transport. */
export class TransportConnection {
  readonly #options: UringTransportOptions;
  /** Engine options beyond the common ones (rdma://: the source address). */
  readonly #engineOptions: Pick<EngineOptions, "localAddress">;
  readonly #url: string;
  readonly #sessionOptions: SessionOptions;
  readonly #sessions = new Set<Session>();
  readonly #pastChannels: ChannelStats = emptyChannelStats();
  #engine: ChannelEngine | undefined;
  #ownsEngine = false;
  #session: Session | undefined;
  #connecting: Promise<Session> | undefined;
  /** The session being set up (connect and handshake): close() ends it too. */
  #opening: Session | undefined;
  #closed = false;

  constructor(options: UringTransportOptions, engineOptions: Pick<EngineOptions, "localAddress">, sessionOptions: SessionOptions) {
    this.#options = options;
    this.#engineOptions = engineOptions;
    this.#url = options.url;
    this.#sessionOptions = sessionOptions;
  }

  /** The engine, once the first connect chose it. */
  get engine(): ChannelEngine | undefined {
    return this.#engine;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sessions open now. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Channel stats of every session, ended ones included. */
  channelStats(): ChannelStats {
    const channels = { ...this.#pastChannels };
    for (const s of this.#sessions) addChannelStats(channels, s.stats());
    return channels;
  }

  /** Closes every session, then the engine if this connection created it. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#opening?.close();
    for (const session of [...this.#sessions]) session.close();
    if (this.#ownsEngine) await this.#engine?.close();
  }

  /** The current session with a stream slot reserved for the caller, if one is free right now. */
  usable(): Session | undefined {
    const session = this.#session;
    if (this.#closed || session === undefined || !session.tryReserveSlot()) return undefined;
    return session;
  }

  /**
   * The current session, connecting if needed, with a stream slot reserved for the
   * caller (taken when its stream opens, given back if the call ends first). Calls
   * above the server's max_concurrent_streams wait in FIFO order; a waiting call whose
   * signal aborts (deadline, cancel) leaves the queue.
   */
  async acquire(signal: AbortSignal): Promise<Session> {
    for (;;) {
      const session = await this.connected(signal);
      if (session.tryReserveSlot() || (await session.reserveSlot(signal))) return session;
      // No slot: aborted (thrown by #connected next), or the session drains: go again.
    }
  }

  /** The current session, connecting if needed (no slot reserved). */
  async connected(signal: AbortSignal): Promise<Session> {
    if (this.#closed) throw new ConnectError("transport closed", Code.Unavailable);
    if (signal.aborted) throw getAbortSignalReason(signal);
    const session = this.#session;
    if (session !== undefined && !session.draining) return session;
    this.#connecting ??= this.#connect().finally(() => {
      this.#connecting = undefined;
    });
    return raceSignal(this.#connecting, signal);
  }

  async #connect(): Promise<Session> {
    let engine = this.#engine;
    if (engine === undefined) {
      const choice = this.#options.engine;
      if (typeof choice === "object") {
        engine = choice;
      } else {
        try {
          engine = engineForUrl(this.#url, {
            ...this.#engineOptions,
            poll: this.#options.poll ?? "event",
            engine: choice ?? "auto",
            ...(this.#options.tls !== undefined ? { tls: { client: this.#options.tls } } : {}),
          });
        } catch (e) {
          throw new ConnectError(`no engine for ${this.#url}: ${(e as Error).message}`, Code.Unavailable, undefined, undefined, e);
        }
        this.#ownsEngine = true;
      }
      this.#engine = engine;
    }
    const holder: { session?: Session } = {};
    let session: Session;
    try {
      session = await Session.connect(
        engine,
        this.#url,
        this.#sessionOptions,
        {
          onClose: () => {
            const s = holder.session;
            if (s === undefined) return;
            this.#sessions.delete(s);
            addChannelStats(this.#pastChannels, s.stats());
            if (this.#session === s) this.#session = undefined;
          },
        },
        (opening) => {
          this.#opening = opening;
          if (this.#closed) opening.close();
        },
      );
    } catch (e) {
      throw new ConnectError(
        `cannot connect to ${this.#url}: ${e instanceof Error ? e.message : String(e)}`,
        // A server that refused the handshake (GOAWAY instead of HELLO) gave its code; one
        // that refused our TLS certificate, Unauthenticated (tls-refusal.ts).
        e instanceof StreamResetError && e.code === "ERR_HANDSHAKE" ? toConnectError(e).code : refusedByTlsPeer(e) ? Code.Unauthenticated : Code.Unavailable,
        undefined,
        undefined,
        e,
      );
    } finally {
      this.#opening = undefined;
    }
    holder.session = session;
    if (session.closed) {
      const reason = session.closeError;
      throw new ConnectError(
        `connection to ${this.#url} closed during setup${reason ? `: ${reason.message}` : ""}`,
        Code.Unavailable,
        undefined,
        undefined,
        reason,
      );
    }
    if (this.#closed) {
      session.close();
      throw new ConnectError("transport closed", Code.Unavailable);
    }
    this.#sessions.add(session);
    this.#session = session;
    return session;
  }
}
