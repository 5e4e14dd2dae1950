// The in-memory ChannelEngine: pure TypeScript, `memory://name` URLs, for tests of the
// layers above src/channel/. It implements the channel contract exactly (leases,
// hold()/release, waitForSpace, ERR_CHANNEL_CLOSED, onClose exactly once) over a
// bounded pool of slots per engine (its "region"). Released slots are poisoned and
// reused LIFO, so a view that outlives its slot sees different bytes: that is what lets
// the zero-copy lifetime tests fail when a layer above gets the lifetimes wrong.
// Delivery copies a frame from the sender's lease into a receive slot of the
// receiver's pool, like the kernel or a NIC would; a full receiver pool stalls delivery
// (back-pressure) instead of growing.

import type {
  AcceptHandler,
  Channel,
  ChannelEngine,
  ChannelEvents,
  ChannelStats,
  Lease,
  Listener,
} from "./channel.js";

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

const SCHEME = "memory://";
const MIN_SLOT = 64;
const EMPTY = new Uint8Array(0);

/** Listeners by name: process-wide, so that separate engines can reach each other. */
const listeners = new Map<string, MemoryListener>();
let anonymous = 0;

function errorWithCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

function parseName(url: string): string {
  if (!url.startsWith(SCHEME)) {
    throw new TypeError(`memory engine: unsupported URL "${url}" (expected memory://name)`);
  }
  return url.slice(SCHEME.length);
}

function slotClass(byteLength: number): number {
  return byteLength <= MIN_SLOT ? MIN_SLOT : 2 ** Math.ceil(Math.log2(byteLength));
}

/** A bounded pool of power-of-two slots with LIFO reuse and poisoning. */
class SlotPool {
  readonly #budget: number;
  readonly #poison: boolean;
  readonly #free = new Map<number, Uint8Array[]>();
  #total = 0;
  #freeBytes = 0;
  #leased = 0;
  #poisonByte = 0xa5;
  #waiters = new Set<() => void>();
  reused = 0;

  constructor(budget: number, poison: boolean) {
    this.#budget = budget;
    this.#poison = poison;
  }

  get total(): number {
    return this.#total;
  }

  get leased(): number {
    return this.#leased;
  }

  canAllocate(byteLength: number): boolean {
    const size = slotClass(byteLength);
    const list = this.#free.get(size);
    if (list !== undefined && list.length > 0) return true;
    return this.#total - this.#freeBytes + size <= this.#budget;
  }

  allocate(byteLength: number): Uint8Array | undefined {
    const size = slotClass(byteLength);
    const list = this.#free.get(size);
    if (list !== undefined && list.length > 0) {
      const slot = list.pop() as Uint8Array;
      this.#freeBytes -= size;
      this.#leased += size;
      this.reused++;
      return slot;
    }
    if (this.#total + size > this.#budget) this.#evict(this.#total + size - this.#budget);
    if (this.#total + size > this.#budget) return undefined;
    this.#total += size;
    this.#leased += size;
    return new Uint8Array(size);
  }

  free(slot: Uint8Array): void {
    if (this.#poison) {
      slot.fill(this.#poisonByte);
      // Vary the pattern so that a stale view cannot match by accident twice.
      this.#poisonByte = (this.#poisonByte * 7 + 13) & 0xff;
    }
    let list = this.#free.get(slot.byteLength);
    if (list === undefined) {
      list = [];
      this.#free.set(slot.byteLength, list);
    }
    list.push(slot);
    this.#freeBytes += slot.byteLength;
    this.#leased -= slot.byteLength;
    for (const wake of [...this.#waiters]) wake();
  }

  /** Calls `wake` after each release until it unregisters itself. */
  onRelease(wake: () => void): () => void {
    this.#waiters.add(wake);
    return () => this.#waiters.delete(wake);
  }

  /** Drops cached free slots (largest classes first) until `bytes` were dropped. */
  #evict(bytes: number): void {
    const sizes = [...this.#free.keys()].sort((a, b) => b - a);
    for (const size of sizes) {
      const list = this.#free.get(size) as Uint8Array[];
      while (list.length > 0 && bytes > 0) {
        list.pop();
        this.#total -= size;
        this.#freeBytes -= size;
        bytes -= size;
      }
      if (bytes <= 0) return;
    }
  }
}

/** A slot leased from a pool; `bytes` reads as length 0 once released. */
class MemoryLease implements Lease {
  #pool: SlotPool;
  #slot: Uint8Array | undefined;
  #view: Uint8Array;

  constructor(pool: SlotPool, slot: Uint8Array, byteLength: number) {
    this.#pool = pool;
    this.#slot = slot;
    this.#view = slot.subarray(0, byteLength);
  }

  get bytes(): Uint8Array {
    return this.#view;
  }

  get released(): boolean {
    return this.#slot === undefined;
  }

  release(): void {
    const slot = this.#slot;
    if (slot === undefined) return;
    this.#slot = undefined;
    this.#view = EMPTY;
    this.#pool.free(slot);
  }
}

function newStats(): ChannelStats {
  return { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, reassembled: 0, reassembledBytes: 0 };
}

interface Outgoing {
  lease: Lease;
  byteLength: number;
}

/** One end of an in-memory connection. */
export class MemoryChannel implements Channel {
  /** Always "memory". */
  readonly engine = "memory" as const;
  readonly maxFrameBytes: number;
  #owner: MemoryEngine;
  #pool: SlotPool;
  #peer: MemoryChannel | undefined;
  #events: ChannelEvents | undefined;
  #outbox: Outgoing[] = [];
  /** Bytes in #outbox, and bytes delivered to the peer so far. */
  #unsent = 0;
  #written = 0;
  #flushScheduled = false;
  #unwait: (() => void) | undefined;
  #closed = false;
  #closeNotified = false;
  #current: { frame: Uint8Array; lease: MemoryLease; held: boolean } | undefined;
  #stats = newStats();

  /** @internal */
  constructor(owner: MemoryEngine, pool: SlotPool, maxFrameBytes: number) {
    this.#owner = owner;
    this.#pool = pool;
    this.maxFrameBytes = maxFrameBytes;
  }

  /** @internal */
  link(peer: MemoryChannel, events: ChannelEvents): void {
    this.#peer = peer;
    this.#events = events;
  }

  /** True once closed (by either end). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes of frames queued for the peer and not delivered yet (its pool was full). */
  get unsentBytes(): number {
    return this.#unsent;
  }

  /** Bytes of frames delivered to the peer so far. */
  get writtenBytes(): number {
    return this.#written;
  }

  /** Always 0: frames arrive whole. */
  get partialFrameBytes(): number {
    return 0;
  }

  /** Always false: an in-memory connection has no half-close (it never calls onEnd). */
  get peerEnded(): boolean {
    return false;
  }

  allocate(byteLength: number): Lease {
    if (this.#closed) throw errorWithCode("channel is closed", "ERR_CHANNEL_CLOSED");
    this.#checkLength(byteLength);
    const slot = this.#pool.allocate(byteLength);
    if (slot === undefined) {
      throw errorWithCode(`memory region full: no slot of ${byteLength} bytes free`, "ERR_REGION_FULL");
    }
    return new MemoryLease(this.#pool, slot, byteLength);
  }

  waitForSpace(byteLength: number, timeoutMs: number): Promise<void> {
    try {
      this.#checkLength(byteLength);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#pool.canAllocate(byteLength)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        unregister();
        reject(errorWithCode(`memory region full: no slot of ${byteLength} bytes within ${timeoutMs} ms`, "ERR_REGION_FULL"));
      }, timeoutMs);
      const unregister = this.#pool.onRelease(() => {
        if (!this.#pool.canAllocate(byteLength)) return;
        clearTimeout(timer);
        unregister();
        resolve();
      });
    });
  }

  send(lease: Lease, byteLength?: number): void {
    if (this.#closed) {
      lease.release();
      throw errorWithCode("channel is closed", "ERR_CHANNEL_CLOSED");
    }
    if (lease.released) throw errorWithCode("lease was already released", "ERR_LEASE_RELEASED");
    const length = byteLength ?? lease.bytes.byteLength;
    if (!Number.isInteger(length) || length < 0 || length > lease.bytes.byteLength) {
      throw new RangeError(`send(): byteLength ${length} outside the lease (${lease.bytes.byteLength} bytes)`);
    }
    this.#outbox.push({ lease, byteLength: length });
    this.#unsent += length;
    this.#stats.framesOut++;
    this.#stats.bytesOut += length;
    this.#scheduleFlush();
  }

  hold(frame: Uint8Array): Lease {
    const current = this.#current;
    if (current === undefined || current.frame !== frame) {
      throw new Error("hold() takes the frame of the onFrame() call in progress");
    }
    current.held = true;
    return current.lease;
  }

  /** Nothing to unref: a memory channel holds no handle of the event loop. */
  keepAlive(_on: boolean): void {}

  close(discard = false): void {
    if (this.#closed) return;
    this.#closed = true;
    if (discard) this.#dropOutbox();
    // Frames queued before close() still leave (like a socket's FIN after its data).
    setImmediate(() => {
      this.#flush();
      this.#dropOutbox();
      const peer = this.#peer;
      if (peer !== undefined) peer.#endByPeer(undefined);
      this.#notifyClose(undefined);
    });
  }

  /**
   * Ends the connection abruptly (test hook: a crashed peer). Queued frames are
   * dropped; this end sees onClose(error), the peer sees an ECONNRESET error.
   */
  destroy(error?: Error): void {
    if (this.#closeNotified) return;
    this.#closed = true;
    this.#dropOutbox();
    const peer = this.#peer;
    if (peer !== undefined) peer.#endByPeer(errorWithCode("connection reset by peer", "ECONNRESET"));
    this.#notifyClose(error);
  }

  /** Counters of this channel since it opened. */
  stats(): ChannelStats {
    return { ...this.#stats };
  }

  #checkLength(byteLength: number): void {
    if (!Number.isInteger(byteLength) || byteLength < 0) {
      throw new RangeError(`invalid frame length ${byteLength}`);
    }
    if (byteLength > this.maxFrameBytes) {
      throw new RangeError(`frame of ${byteLength} bytes exceeds maxFrameBytes ${this.maxFrameBytes}`);
    }
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /** Moves queued frames into receive slots of the peer, in order, while it has room. */
  #flush(): void {
    const peer = this.#peer;
    while (this.#outbox.length > 0) {
      if (peer === undefined || peer.#closeNotified) {
        this.#dropOutbox();
        return;
      }
      const head = this.#outbox[0] as Outgoing;
      const slot = peer.#pool.allocate(head.byteLength);
      if (slot === undefined) {
        // Receiver region full: wait for one of its releases (back-pressure).
        if (this.#unwait === undefined) {
          this.#unwait = peer.#pool.onRelease(() => {
            this.#unwait?.();
            this.#unwait = undefined;
            this.#scheduleFlush();
          });
        }
        return;
      }
      this.#outbox.shift();
      this.#unsent -= head.byteLength;
      this.#written += head.byteLength;
      slot.set(head.lease.bytes.subarray(0, head.byteLength));
      head.lease.release();
      peer.#deliver(new MemoryLease(peer.#pool, slot, head.byteLength));
    }
  }

  #deliver(lease: MemoryLease): void {
    if (this.#closed || this.#events === undefined) {
      lease.release();
      return;
    }
    const frame = lease.bytes;
    this.#stats.framesIn++;
    this.#stats.bytesIn += frame.byteLength;
    const current = { frame, lease, held: false };
    this.#current = current;
    try {
      this.#events.onFrame(frame);
    } catch (e) {
      this.destroy(e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.#current = undefined;
      if (!current.held) lease.release();
    }
  }

  #dropOutbox(): void {
    for (const o of this.#outbox) o.lease.release();
    this.#outbox = [];
    this.#unsent = 0;
    this.#unwait?.();
    this.#unwait = undefined;
  }

  #endByPeer(error: Error | undefined): void {
    if (this.#closeNotified) return;
    this.#closed = true;
    this.#dropOutbox();
    this.#notifyClose(error);
  }

  #notifyClose(error: Error | undefined): void {
    if (this.#closeNotified) return;
    this.#closeNotified = true;
    this.#unwait?.();
    this.#unwait = undefined;
    this.#owner.forget(this);
    this.#events?.onClose(error);
  }
}

class MemoryListener implements Listener {
  readonly url: string;
  readonly name: string;
  readonly engine: MemoryEngine;
  readonly onAccept: AcceptHandler;

  constructor(name: string, engine: MemoryEngine, onAccept: AcceptHandler) {
    this.name = name;
    this.url = SCHEME + name;
    this.engine = engine;
    this.onAccept = onAccept;
  }

  close(): Promise<void> {
    if (listeners.get(this.name) === this) listeners.delete(this.name);
    this.engine.forgetListener(this);
    return Promise.resolve();
  }
}

/** An in-memory engine: one bounded slot pool shared by all its channels. */
export class MemoryEngine implements ChannelEngine {
  /** Always "memory". */
  readonly name = "memory" as const;
  readonly #pool: SlotPool;
  readonly #maxFrameBytes: number;
  readonly #regionBytes: number;
  readonly #channels = new Set<MemoryChannel>();
  readonly #listeners = new Set<MemoryListener>();
  readonly #closedStats = newStats();
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
      name = parseName(url);
      this.#assertOpen();
    } catch (e) {
      return Promise.reject(e);
    }
    const listener = listeners.get(name);
    if (listener === undefined) {
      return Promise.reject(errorWithCode(`connect ECONNREFUSED ${url}`, "ECONNREFUSED"));
    }
    const client = new MemoryChannel(this, this.#pool, this.#maxFrameBytes);
    const server = listener.engine.#newChannel();
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
      name = parseName(url);
      this.#assertOpen();
    } catch (e) {
      return Promise.reject(e);
    }
    if (name === "" || name === "*") name = `anonymous-${process.pid}-${++anonymous}`;
    if (listeners.has(name)) {
      return Promise.reject(errorWithCode(`listen EADDRINUSE ${SCHEME}${name}`, "EADDRINUSE"));
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
    for (const c of this.#channels) addStats(s, c.stats());
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
    if (this.#channels.delete(channel)) addStats(this.#closedStats, channel.stats());
  }

  /** @internal */
  forgetListener(listener: MemoryListener): void {
    this.#listeners.delete(listener);
  }

  #newChannel(): MemoryChannel {
    const c = new MemoryChannel(this, this.#pool, this.#maxFrameBytes);
    this.#channels.add(c);
    return c;
  }

  #assertOpen(): void {
    if (this.#closed) throw errorWithCode("memory engine is closed", "ERR_ENGINE_CLOSED");
  }
}

function addStats(into: ChannelStats, from: ChannelStats): void {
  into.framesIn += from.framesIn;
  into.framesOut += from.framesOut;
  into.bytesIn += from.bytesIn;
  into.bytesOut += from.bytesOut;
  into.reassembled += from.reassembled;
  into.reassembledBytes += from.reassembledBytes;
}

/** Creates an in-memory engine (URLs `memory://name`; `memory://` alone picks a free name). */
export function createMemoryEngine(options?: MemoryEngineOptions): MemoryEngine {
  return new MemoryEngine(options);
}
