// The in-memory ChannelEngine: pure TypeScript, `memory://name` URLs, for tests of the
// layers above src/channel/. It implements the channel contract exactly (leases,
// hold()/release, waitForSpace, ERR_CHANNEL_CLOSED, onClose exactly once) over a
// bounded pool of slots per engine (its "region", memory-pool.ts): that is what lets
// the zero-copy lifetime tests fail when a layer above gets the lifetimes wrong. This
// file owns the engine and the process-wide registry of listener names; the channel,
// listener, lease and pool have a file each.

import type { ChannelPeer } from "./channel-peer.js";
import type { AcceptHandler, Channel, ChannelEngine, ChannelEvents, ChannelStats, Listener } from "./channel.js";
import { codedError } from "../errors.js";
import { addChannelStats, emptyChannelStats } from "./channel-stats.js";
import { engineClosedError } from "./contract.js";
import { MemoryChannel } from "./memory-channel.js";
import { MEMORY_SCHEME, MemoryListener } from "./memory-listener.js";
import { SlotPool } from "./memory-pool.js";

export { MemoryChannel } from "./memory-channel.js";

/** Options of {@link createMemoryEngine}. */
export interface MemoryEngineOptions {
  /** Bytes of slot memory this engine may hold at once (its region). Default 64 MiB. */
  regionBytes?: number;
  /** Largest frame, in bytes. Default 8 MiB (a 4 MiB message plus metadata fits). */
  maxFrameBytes?: number;
  /** Overwrite released slots with a poison pattern before reuse. Default true. */
  poison?: boolean;
}

/** Counters of a memory engine: channel counters plus its pool. */
export interface MemoryEngineStats extends ChannelStats {
  /** The pool's bound in bytes (the `regionBytes` option). */
  regionBytes: number;
  /** Slot bytes currently created (in use or cached for reuse). */
  poolBytes: number;
  /** Slot bytes currently leased (sends in flight, held frames, queued receives). */
  leasedBytes: number;
  /** Slots that were released and handed out again. */
  reused: number;
}

/** Listeners by name: process-wide, so that separate engines can reach each other. */
const listeners = new Map<string, MemoryListener<MemoryEngine>>();
let anonymous = 0;

function parseName(url: string): string {
  if (!url.startsWith(MEMORY_SCHEME)) {
    throw new TypeError(`memory engine: unsupported URL "${url}" (expected memory://name)`);
  }
  return url.slice(MEMORY_SCHEME.length);
}

/** An in-memory engine: one bounded slot pool shared by all its channels. */
export class MemoryEngine implements ChannelEngine {
  /** Always "memory". */
  readonly name = "memory" as const;
  readonly #pool: SlotPool;
  readonly #maxFrameBytes: number;
  readonly #regionBytes: number;
  readonly #channels = new Set<MemoryChannel>();
  readonly #listeners = new Set<MemoryListener<MemoryEngine>>();
  readonly #closedStats = emptyChannelStats();
  #closed = false;

  constructor(options: MemoryEngineOptions = {}) {
    this.#regionBytes = options.regionBytes ?? 64 * 1024 * 1024;
    this.#maxFrameBytes = Math.min(options.maxFrameBytes ?? 8 * 1024 * 1024, this.#regionBytes);
    this.#pool = new SlotPool(this.#regionBytes, options.poison ?? true);
  }

  /** Connects to a listener of this engine (`memory://name`). */
  connect(url: string, events: ChannelEvents): Promise<Channel> {
    let name: string;
    try {
      name = this.#nameOf(url);
    } catch (e) {
      return Promise.reject(e);
    }
    const listener = listeners.get(name);
    if (listener === undefined) {
      return Promise.reject(codedError("ECONNREFUSED", `connect ECONNREFUSED ${url}`));
    }
    // Both ends are known by the one name there is: the listener's URL.
    const peer = Object.freeze({ address: `memory://${name}` });
    const client = new MemoryChannel(this, this.#pool, this.#maxFrameBytes, peer);
    const server = listener.engine.#newChannel(peer);
    this.#channels.add(client);
    let serverEvents: ChannelEvents;
    try {
      serverEvents = listener.onAccept(server);
    } catch (e) {
      listener.engine.#channels.delete(server);
      this.#channels.delete(client);
      return Promise.reject(e);
    }
    client.link(server, events);
    server.link(client, serverEvents);
    return Promise.resolve(client);
  }

  /** Listens on `memory://name` inside this engine. */
  listen(url: string, onAccept: AcceptHandler): Promise<Listener> {
    let name: string;
    try {
      name = this.#nameOf(url);
    } catch (e) {
      return Promise.reject(e);
    }
    if (name === "" || name === "*") name = `anonymous-${process.pid}-${++anonymous}`;
    if (listeners.has(name)) {
      return Promise.reject(codedError("EADDRINUSE", `listen EADDRINUSE ${MEMORY_SCHEME}${name}`));
    }
    const listener = new MemoryListener(name, this, onAccept);
    listeners.set(name, listener);
    this.#listeners.add(listener);
    return Promise.resolve(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of [...this.#listeners]) await l.close();
    const closing = [...this.#channels].map(
      (c) =>
        new Promise<void>((resolve) => {
          c.close();
          setImmediate(resolve);
        }),
    );
    await Promise.all(closing);
  }

  /** Counters summed over every channel this engine made, plus its pool. */
  stats(): MemoryEngineStats {
    const s = { ...this.#closedStats };
    for (const c of this.#channels) addChannelStats(s, c.stats());
    return {
      ...s,
      regionBytes: this.#regionBytes,
      poolBytes: this.#pool.total,
      leasedBytes: this.#pool.leased,
      reused: this.#pool.reused,
    };
  }

  /** @internal */
  forget(channel: MemoryChannel): void {
    if (this.#channels.delete(channel)) addChannelStats(this.#closedStats, channel.stats());
  }

  /** @internal */
  forgetListener(listener: MemoryListener<MemoryEngine>): void {
    if (listeners.get(listener.name) === listener) listeners.delete(listener.name);
    this.#listeners.delete(listener);
  }

  #newChannel(peer: ChannelPeer): MemoryChannel {
    const c = new MemoryChannel(this, this.#pool, this.#maxFrameBytes, peer);
    this.#channels.add(c);
    return c;
  }

  /** The listener name of a `memory://name` URL, on an open engine (throws otherwise). */
  #nameOf(url: string): string {
    const name = parseName(url);
    this.#assertOpen();
    return name;
  }

  #assertOpen(): void {
    if (this.#closed) throw engineClosedError();
  }
}

/** Creates an in-memory engine (URLs `memory://name`; `memory://` alone picks a free name). */
export function createMemoryEngine(options?: MemoryEngineOptions): MemoryEngine {
  return new MemoryEngine(options);
}
