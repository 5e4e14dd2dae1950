// NativeChannel: one connection of a native engine (io_uring or RDMA) as a Channel.
// Owns the JS side of the connection: the frame callbacks, holds on received frames,
// per-channel counters, and its share of the region in unsent frames (send-share.ts; the
// native engine counts the bytes, this class refuses leases beyond the share). On engines
// that write frames in place (shm), allocate() hands out the connection's own ring space
// when the engine has it (in-place-lease.ts) and a region lease otherwise. The
// socket or queue pair, its queues and its receive state belong to the native engine.
import { codedError } from "../errors.js";
import { RegionLease, type Region } from "../region.js";
import type { Channel, ChannelEvents, ChannelStats, EngineName, FrameWriter, Lease } from "./channel.js";
import type { ChannelPeer } from "./channel-peer.js";
import { CLOSE_DRAIN_MS, channelClosedError, checkFrameLength, checkSendLength, holdMisuseError } from "./contract.js";
import { HeldFrame } from "./held-frame.js";
import { InPlaceLease } from "./in-place-lease.js";
import type { RegionSpace } from "./region-space.js";
import type { SendShare } from "./send-share.js";
import { systemError } from "./system-error.js";
import { notifyPeerEnd } from "./peer-end.js";
import { PACK_MAX_FRAME_BYTES, SendPack, type SendRangeTable } from "./send-pack.js";


/** What a NativeChannel needs from its engine. */
export interface NativeChannelOwner {
  readonly name: EngineName;
  readonly region: Region;
  readonly maxFrameBytes: number;
  /** Bytes of the engine's frame header, written natively in front of each lease. */
  readonly headerBytes: number;
  /** What one connection may hold in unsent frames. */
  readonly share: SendShare;
  /** Waiters for room in the region (waitForSpace). */
  readonly space: RegionSpace;
  readonly closed: boolean;
  readonly native: {
    send(connection: number, leaseOffset: number, length: number): number;
    /** graceful: frames already queued are sent first. */
    closeConnection(connection: number, graceful: boolean): number;
    setRef(connection: number, keepsAlive: boolean): void;
    holdSlot(offset: number): number;
    releaseSlot(index: number): void;
    unsentBytes(connection: number): number;
    writtenBytes(connection: number): number;
    /** Stream engines (io_uring) only: bytes of the frame being received, -1 when gone. */
    partialFrameBytes?(connection: number): number;
  };
  forget(id: number): void;
  /** Engines that take send packs (io_uring): the range table shared with the native engine. */
  readonly sendRanges?: SendRangeTable;
  /** Engines whose connections each map their own memory (shm): that memory's one ArrayBuffer. */
  bufferOf?(id: number): ArrayBuffer | undefined;
  /** Engines that read frames in place in that memory: keeps one past onFrame(). */
  holdInPlace?(id: number, frame: Uint8Array): Lease;
  /**
   * Engines that let a frame be written straight into that memory (shm): reserve() gives
   * the body's offset in bufferOf()'s ArrayBuffer, or < 0 when a region lease must carry
   * the frame (copied at send); commit() sends the record, abandon() drops it.
   */
  readonly inPlace?: {
    reserve(connection: number, byteLength: number): number;
    commit(connection: number, offset: number, length: number): number;
    abandon(connection: number, offset: number): void;
  };
}

/** A connection of a native engine. */
export class NativeChannel implements Channel {
  /** "uring", "rdma" or "shm". */
  readonly engine: EngineName;
  /** The native connection id (unique within its engine). */
  readonly id: number;
  readonly maxFrameBytes: number;
  /** Who is at the other end, as the engine read it when the connection opened. */
  readonly peer: ChannelPeer | undefined;
  #owner: NativeChannelOwner;
  /** The connection's own mapping (shm), else undefined. */
  readonly #buffer: ArrayBuffer | undefined;
  /** Where received frames are: #buffer, else the region's buffer. */
  readonly #memory: Uint8Array;
  #events: ChannelEvents | undefined;
  #closed = false;
  /** close() chose a lingering close that has not been cut short (close(true) cuts it). */
  #lingering = false;
  #peerEnded = false;
  // The frame being delivered right now, as its range of #memory (hold() is only valid for
  // it; a view of that range is the frame); length -1 between deliveries.
  #currentOffset = 0;
  #currentLength = -1;
  #currentIsLease = false;
  #currentHeld = false;
  /** Unsent lease bytes the engine reported last, plus what was handed to it since. */
  #unsentKnown = 0;
  #handedSince = 0;
  #written = 0;
  #stats: ChannelStats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, reassembled: 0, reassembledBytes: 0 };
  /** The send pack small frames go into (engines with send packs). */
  readonly #pack: SendPack | undefined;

  constructor(owner: NativeChannelOwner, id: number, peer?: ChannelPeer) {
    this.#owner = owner;
    this.engine = owner.name;
    this.id = id;
    this.peer = peer;
    this.maxFrameBytes = owner.maxFrameBytes;
    this.#buffer = owner.bufferOf?.(id);
    this.#memory = new Uint8Array(this.#buffer ?? owner.region.buffer);
    this.#pack = owner.sendRanges !== undefined ? new SendPack(owner.sendRanges, owner.region, id) : undefined;
  }

  /** True once closed (locally or by the peer). */
  get closed(): boolean {
    return this.#closed;
  }

  /** True once the peer ended its side (onEnd): no more frames arrive. */
  get peerEnded(): boolean {
    return this.#peerEnded;
  }

  /** @internal */
  setEvents(events: ChannelEvents): void {
    if (!events || typeof events.onFrame !== "function" || typeof events.onClose !== "function") {
      throw new TypeError("channel events need onFrame and onClose functions");
    }
    this.#events = events;
  }

  get unsentBytes(): number {
    if (this.#closed) return 0;
    const n = this.#owner.closed ? -1 : this.#owner.native.unsentBytes(this.id);
    this.#unsentKnown = n < 0 ? 0 : n;
    this.#handedSince = 0;
    return this.#unsentKnown;
  }

  get writtenBytes(): number {
    if (!this.#closed && !this.#owner.closed) {
      const n = this.#owner.native.writtenBytes(this.id);
      if (n >= 0) this.#written = n;
    }
    return this.#written;
  }

  get partialFrameBytes(): number {
    if (this.#closed || this.#owner.closed) return 0;
    return Math.max(0, this.#owner.native.partialFrameBytes?.(this.id) ?? 0);
  }

  allocate(byteLength: number): Lease {
    this.#checkLength(byteLength);
    if (this.#closed) throw channelClosedError();
    const inPlace = this.#owner.inPlace;
    if (inPlace !== undefined && this.#buffer !== undefined && !this.#owner.closed) {
      const offset = inPlace.reserve(this.id, byteLength);
      if (offset >= 0) return new InPlaceLease(this, new Uint8Array(this.#buffer, offset, byteLength), this.#abandon);
    }
    if (!this.#withinShare(byteLength)) {
      throw codedError("ERR_REGION_FULL", `connection holds its share of the region in unsent frames (maxUnsentBytes ${this.#owner.share.limit})`);
    }
    return this.#owner.region.allocate(byteLength, this.#owner.headerBytes);
  }

  /** True when one more frame of `byteLength` fits this channel's share (asks the engine only near the bound). */
  #withinShare(byteLength: number): boolean {
    const share = this.#owner.share;
    const bytes = byteLength + this.#owner.headerBytes;
    if (share.admits(this.#unsentKnown + this.#handedSince, bytes)) return true;
    return share.admits(this.unsentBytes, bytes);
  }

  waitForSpace(byteLength: number, timeoutMs: number): Promise<void> {
    try {
      this.#checkLength(byteLength);
    } catch (error) {
      return Promise.reject(error);
    }
    const region = this.#owner.region;
    const closed = (): Error | undefined => (this.#closed || region.closed ? channelClosedError() : undefined);
    return this.#owner.space.wait(byteLength + this.#owner.headerBytes, timeoutMs, closed, () => this.#withinShare(byteLength));
  }

  /** Drops an in-place record whose lease was released unsent. */
  readonly #abandon = (offset: number): void => {
    if (!this.#owner.closed) this.#owner.inPlace?.abandon(this.id, offset);
  };

  send(lease: Lease, byteLength?: number): void {
    if (lease instanceof InPlaceLease && lease.owner === this) {
      this.#sendInPlace(lease, byteLength);
      return;
    }
    if (!(lease instanceof RegionLease) || lease.region !== this.#owner.region) {
      throw new TypeError("send() takes a lease allocated from this channel");
    }
    const length = byteLength ?? lease.bytes.length;
    checkSendLength(length, lease.bytes.length);
    if (this.#closed) {
      lease.release();
      throw channelClosedError();
    }
    const leaseBytes = this.#owner.share.size(lease.bytes.length + this.#owner.headerBytes);
    const rc = this.#owner.native.send(this.id, lease.transfer(), length);
    // The connection ended natively and onClose is on its way: the frame is dropped (its
    // lease was freed), as on a socket that was reset under a write.
    if (rc < 0) return;
    this.#handedSince += leaseBytes;
    this.#stats.framesOut++;
    this.#stats.bytesOut += length;
  }

  sendFrame(frame: FrameWriter): boolean {
    const byteLength = frame.byteLength;
    const pack = this.#pack;
    if (pack === undefined || byteLength > PACK_MAX_FRAME_BYTES) return this.#sendInLease(frame);
    this.#checkLength(byteLength);
    if (this.#closed) throw channelClosedError();
    if (!this.#withinShare(byteLength) || !pack.write(frame)) return this.#sendInLease(frame);
    this.#handedSince += byteLength + this.#owner.headerBytes;
    this.#stats.framesOut++;
    this.#stats.bytesOut += byteLength;
    return true;
  }

  /** sendFrame() with a lease of its own (a large frame, no pack, or no pack lease free). */
  #sendInLease(frame: FrameWriter): boolean {
    let lease: Lease;
    try {
      lease = this.allocate(frame.byteLength);
    } catch (e) {
      if ((e as { code?: unknown }).code === "ERR_REGION_FULL") return false;
      throw e;
    }
    try {
      frame.write(lease.bytes);
    } catch (e) {
      lease.release();
      throw e;
    }
    this.send(lease);
    return true;
  }

  /** The record is in the ring already: the engine publishes it at the turn's end (no copy). */
  #sendInPlace(lease: InPlaceLease, byteLength: number | undefined): void {
    const length = byteLength ?? lease.bytes.length;
    checkSendLength(length, lease.bytes.length);
    if (this.#closed) {
      lease.release();
      throw channelClosedError();
    }
    // < 0: the connection ended natively and onClose is on its way (the frame is dropped).
    if (this.#owner.inPlace!.commit(this.id, lease.transfer(), length) < 0) return;
    this.#stats.framesOut++;
    this.#stats.bytesOut += length;
  }

  hold(frame: Uint8Array): Lease {
    if (!this.#isCurrent(frame) || this.#currentHeld) {
      throw holdMisuseError();
    }
    this.#currentHeld = true;
    const region = this.#owner.region;
    if (this.#currentIsLease) {
      return new RegionLease(region, this.#currentOffset - this.#owner.headerBytes, this.#owner.headerBytes, this.#currentLength);
    }
    if (this.#owner.holdInPlace) return this.#owner.holdInPlace(this.id, frame);
    const index = this.#owner.native.holdSlot(frame.byteOffset);
    if (index < 0) throw systemError(index, "holdSlot");
    // The slot stays out of the kernel's hands until release().
    const owner = this.#owner;
    return new HeldFrame(frame, () => {
      if (!owner.closed) owner.native.releaseSlot(index);
    });
  }

  /** What the native engine was last told: a new connection keeps the loop alive. */
  #keepsAlive = true;

  keepAlive(on: boolean): void {
    // One native call per change of state, not per call of this method.
    if (on === this.#keepsAlive || this.#closed || this.#owner.closed) return;
    this.#keepsAlive = on;
    this.#owner.native.setRef(this.id, on);
  }

  close(discard = false): void {
    if (this.#closed) {
      // A lingering close of ours, cut short.
      if (discard && this.#lingering && !this.#owner.closed) {
        this.#lingering = false;
        this.#owner.native.closeConnection(this.id, false);
      }
      return;
    }
    this.#closed = true;
    this.#owner.forget(this.id);
    if (discard && !this.#owner.closed) {
      // Queued frames are dropped; their leases come back at once.
      this.#owner.native.closeConnection(this.id, false);
    } else if (!this.#owner.closed) {
      // Frames sent before close() still leave; a peer that stops reading cannot hold
      // the connection open longer than CLOSE_DRAIN_MS.
      this.#owner.native.closeConnection(this.id, true);
      this.#lingering = true;
      const owner = this.#owner;
      const id = this.id;
      setTimeout(() => {
        if (!owner.closed) owner.native.closeConnection(id, false);
      }, CLOSE_DRAIN_MS).unref();
    }
    const events = this.#events;
    queueMicrotask(() => events?.onClose(undefined));
  }

  /** Counters of this channel since it opened. */
  stats(): ChannelStats {
    return { ...this.#stats };
  }

  /** Whether `frame` is a view of exactly the frame being delivered. */
  #isCurrent(frame: Uint8Array): boolean {
    return (
      this.#currentLength >= 0 &&
      frame.buffer === this.#memory.buffer &&
      frame.byteOffset === this.#currentOffset &&
      frame.byteLength === this.#currentLength
    );
  }

  /** @internal One frame from the engine: body at offset `offset` of the receive memory. */
  deliver(offset: number, length: number, isLease: boolean): void {
    this.#stats.framesIn++;
    this.#stats.bytesIn += length;
    if (isLease) {
      this.#stats.reassembled++;
      this.#stats.reassembledBytes += length;
    }
    this.#currentOffset = offset;
    this.#currentLength = length;
    this.#currentIsLease = isLease;
    this.#currentHeld = false;
    try {
      if (!this.#closed) {
        const events = this.#events!;
        // In place when the receiver can: no view made here (ChannelEvents.onFrameAt).
        if (events.onFrameAt !== undefined) events.onFrameAt(this.#memory, offset, length);
        else events.onFrame(new Uint8Array(this.#memory.buffer, offset, length));
      }
    } catch (error) {
      // A throwing handler closes its own channel (as on every engine), nothing else.
      this.#fail(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#currentLength = -1;
      if (isLease && !this.#currentHeld) this.#owner.region.free(offset - this.#owner.headerBytes);
    }
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#owner.forget(this.id);
    if (!this.#owner.closed) this.#owner.native.closeConnection(this.id, false);
    const events = this.#events;
    queueMicrotask(() => events?.onClose(error));
  }

  /**
   * @internal The peer half-closed (EOF after whole frames): the native side stopped
   * receiving and keeps sending. The owner's onEnd decides when to close; without one,
   * the channel closes now (queued frames still leave).
   */
  peerEnd(): void {
    if (this.#closed || this.#peerEnded) return;
    this.#peerEnded = true;
    notifyPeerEnd(this.#events, () => this.close(), (error) => this.#fail(error));
  }

  /** @internal The engine reports the end of the connection. */
  ended(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#events?.onClose(error);
  }

  #checkLength(byteLength: number): void {
    checkFrameLength(byteLength, this.maxFrameBytes);
  }
}
