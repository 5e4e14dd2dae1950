// One end of an in-memory connection: delivery copies a frame from the sender's lease
// into a receive slot of the receiver's pool, like the kernel or a NIC would; a full
// receiver pool stalls delivery (back-pressure) instead of growing.
import type { ChannelPeer } from "./channel-peer.js";
import type { Channel, ChannelEvents, ChannelStats, Lease } from "./channel.js";
import { codedError } from "../errors.js";
import { emptyChannelStats } from "./channel-stats.js";
import { channelClosedError, checkFrameLength, checkSendLength, holdMisuseError } from "./contract.js";
import { MemoryLease } from "./memory-lease.js";
import type { SlotPool } from "./memory-pool.js";

/** What a MemoryChannel needs from its engine. */
export interface MemoryChannelOwner {
  /** The channel closed: out of the engine's set. */
  forget(channel: MemoryChannel): void;
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
  /** The other end: its address is the listener's memory:// URL (the ends have no other name). */
  readonly peer: ChannelPeer;
  #owner: MemoryChannelOwner;
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
  #stats = emptyChannelStats();

  /** @internal */
  constructor(owner: MemoryChannelOwner, pool: SlotPool, maxFrameBytes: number, peer: ChannelPeer) {
    this.#owner = owner;
    this.peer = peer;
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
    if (this.#closed) throw channelClosedError();
    this.#checkLength(byteLength);
    const slot = this.#pool.allocate(byteLength);
    if (slot === undefined) {
      throw codedError("ERR_REGION_FULL", `memory region full: no slot of ${byteLength} bytes free`);
    }
    return new MemoryLease(this.#pool, slot, byteLength);
  }

  waitForSpace(byteLength: number, timeoutMs: number): Promise<void> {
    try {
      this.#checkLength(byteLength);
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#closed) return Promise.reject(channelClosedError());
    if (this.#pool.canAllocate(byteLength)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        unregister();
        reject(codedError("ERR_REGION_FULL", `memory region full: no slot of ${byteLength} bytes within ${timeoutMs} ms`));
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
      throw channelClosedError();
    }
    if (lease.released) throw codedError("ERR_LEASE_RELEASED", "lease was already released");
    const length = byteLength ?? lease.bytes.byteLength;
    checkSendLength(length, lease.bytes.byteLength);
    this.#outbox.push({ lease, byteLength: length });
    this.#unsent += length;
    this.#stats.framesOut++;
    this.#stats.bytesOut += length;
    this.#scheduleFlush();
  }

  hold(frame: Uint8Array): Lease {
    const current = this.#current;
    if (current === undefined || current.frame !== frame) {
      throw holdMisuseError();
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
    if (peer !== undefined) peer.#endByPeer(codedError("ECONNRESET", "connection reset by peer"));
    this.#notifyClose(error);
  }

  /** Counters of this channel since it opened. */
  stats(): ChannelStats {
    return { ...this.#stats };
  }

  #checkLength(byteLength: number): void {
    checkFrameLength(byteLength, this.maxFrameBytes);
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
