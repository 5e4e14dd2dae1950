// One node:net connection as a Channel (the net engine's half of the contract in
// channel.ts). Owns the socket, its FrameReader, the leases of its sends until the
// socket wrote them, and the once-only onClose report.
//   send:    the 4-byte header is written into the lease in front of the payload, and the
//            lease's header+payload view goes to the socket; the socket is corked on the
//            first send of a turn and uncorked in setImmediate, so a turn's frames leave
//            in one writev. The lease is freed in the write callback; until then it
//            counts in unsentBytes, bounded by the engine's per-connection share.
//   receive: FrameReader hands over views of socket chunks, or reassembled leases which
//            are freed after onFrame unless hold() was called (or, when the region or
//            the connection's share of it (reassembly-share.ts) had no room, frames
//            reassembled on the heap, counted in reassembledOnHeap).
//   end:     sockets are half-open capable (allowHalfOpen): the peer's FIN after whole
//            frames is onEnd(), and the socket keeps writing until close() (without an
//            onEnd, close() is called at once).
//   close:   queued frames leave, then our FIN; what the peer still sends is dropped until
//            its FIN (lingering), CLOSE_DRAIN_MS at most.

import type { Socket } from "node:net";
import type { Channel, ChannelEvents, ChannelStats, Lease } from "./channel.js";
import { RegionLease, type Region } from "../region.js";
import { codedError } from "../errors.js";
import { CLOSE_DRAIN_MS, channelClosedError, checkFrameLength, checkSendLength, holdMisuseError } from "./contract.js";
import { FRAME_HEADER_BYTES, FrameReader, type FrameOrigin } from "./net-frame-reader.js";
import type { RegionSpace } from "./region-space.js";
import type { ReassemblyShare } from "./reassembly-share.js";
import type { SendShare } from "./send-share.js";
import { HeldFrame } from "./held-frame.js";
import { notifyPeerEnd } from "./peer-end.js";
import type { ChannelPeer } from "./channel-peer.js";

/** @internal What a NetChannel needs from its engine. */
export interface NetChannelHost {
  readonly region: Region;
  readonly space: RegionSpace;
  /** What one connection may hold in unsent frames. */
  readonly share: SendShare;
  /** Which frames may be reassembled into leases. */
  readonly reassembly: ReassemblyShare;
  /** A DataView over the region's ArrayBuffer, for frame headers. */
  readonly headers: DataView;
  readonly maxFrameBytes: number;
  /** Called once, when the channel's socket closed. */
  forget(channel: NetChannel): void;
}

interface CurrentFrame {
  frame: Uint8Array;
  lease: RegionLease | undefined;
  holds: number;
}

/** Counters of a net channel: the channel counters plus heap reassemblies. */
export interface NetChannelStats extends ChannelStats {
  /** Frames reassembled on the heap because the region was full (included in reassembled). */
  reassembledOnHeap: number;
}

function newStats(): NetChannelStats {
  return { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, reassembled: 0, reassembledBytes: 0, reassembledOnHeap: 0 };
}

/** A Channel over one node:net socket. */
export class NetChannel implements Channel {
  readonly engine = "net" as const;
  readonly maxFrameBytes: number;
  /** Who is at the other end, read when the socket connected (over TLS: its certificate, tls-peer.ts). */
  readonly peer: ChannelPeer;
  /** Resolves once the socket closed and onClose was reported. */
  readonly whenClosed: Promise<void>;
  #host: NetChannelHost;
  #socket: Socket;
  #reader: FrameReader;
  #events: ChannelEvents | undefined;
  #stats = newStats();
  #current: CurrentFrame | undefined;
  /** Lease bytes given to the socket and not written yet, and written so far. */
  #unsent = 0;
  #written = 0;
  #corked = false;
  #closed = false;
  #closedLocally = false;
  #peerEnded = false;
  #notified = false;
  #error: Error | undefined;
  #drainTimer: NodeJS.Timeout | undefined;
  #resolveClosed!: () => void;

  /** @internal */
  /** `firstFrameMaxBytes`: the most the peer's first frame may announce (0: no bound; ListenOptions). */
  constructor(host: NetChannelHost, socket: Socket, peer: ChannelPeer, firstFrameMaxBytes = 0) {
    this.#host = host;
    this.peer = peer;
    this.#socket = socket;
    this.maxFrameBytes = host.maxFrameBytes;
    const leases = { tryAllocate: (length: number, headerBytes: number) => this.#reassemblyLease(length, headerBytes) };
    this.#reader = new FrameReader(leases, host.maxFrameBytes, (frame, origin) => this.#deliver(frame, origin), firstFrameMaxBytes);
    this.whenClosed = new Promise((resolve) => (this.#resolveClosed = resolve));
    socket.on("error", (error) => {
      // Node core errors (ECONNRESET, EPIPE, ...) pass through with code/errno/syscall.
      if (!this.#closedLocally) this.#error ??= error;
      this.#closed = true;
      this.#stopReading();
      // node:net destroys a socket before its 'error'; a TLSSocket's TLS errors (an alert
      // from the peer) are emitted on a live socket, and with allowHalfOpen no 'close'
      // would follow. Destroying here makes 'close' (and onClose) come in both cases.
      socket.destroy();
    });
    socket.on("close", () => this.#onSocketClose());
  }

  /** @internal Starts delivering frames to `events`. */
  start(events: ChannelEvents): void {
    this.#events = events;
    this.#socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on("end", () => this.#onEnd());
  }

  get closed(): boolean {
    return this.#closed;
  }

  get unsentBytes(): number {
    return this.#closed ? 0 : this.#unsent;
  }

  get writtenBytes(): number {
    return this.#written;
  }

  get partialFrameBytes(): number {
    return this.#closed ? 0 : this.#reader.partialBytes;
  }

  /** True once the peer ended its side (onEnd): no more frames arrive. */
  get peerEnded(): boolean {
    return this.#peerEnded;
  }

  allocate(byteLength: number): Lease {
    if (this.#closed) throw channelClosedError();
    this.#checkLength(byteLength);
    const share = this.#host.share;
    if (!share.admits(this.#unsent, byteLength + FRAME_HEADER_BYTES)) {
      throw codedError("ERR_REGION_FULL", `connection holds its share of the region in unsent frames (maxUnsentBytes ${share.limit})`);
    }
    return this.#host.region.allocate(byteLength, FRAME_HEADER_BYTES);
  }

  waitForSpace(byteLength: number, timeoutMs: number): Promise<void> {
    try {
      this.#checkLength(byteLength);
    } catch (error) {
      return Promise.reject(error);
    }
    const closed = (): Error | undefined => (this.#closed ? channelClosedError() : undefined);
    const admits = (): boolean => this.#host.share.admits(this.#unsent, byteLength + FRAME_HEADER_BYTES);
    return this.#host.space.wait(byteLength + FRAME_HEADER_BYTES, timeoutMs, closed, admits);
  }

  send(lease: Lease, byteLength?: number): void {
    if (this.#closed) {
      lease.release();
      throw channelClosedError();
    }
    const bytes = lease.bytes; // throws ERR_LEASE_RELEASED
    const length = byteLength ?? bytes.byteLength;
    checkSendLength(length, bytes.byteLength);
    this.#cork();
    const { region, headers } = this.#host;
    if (lease instanceof RegionLease && lease.region === region) {
      const size = this.#host.share.size(bytes.byteLength + FRAME_HEADER_BYTES);
      const offset = lease.transfer();
      this.#unsent += size;
      const done = (): void => {
        this.#unsent -= size;
        this.#written += size;
        this.#freeLease(offset);
      };
      if (bytes.byteOffset === offset + FRAME_HEADER_BYTES) {
        // The common case: header room in front of the payload, one contiguous write.
        headers.setUint32(offset, length, true);
        this.#socket.write(new Uint8Array(region.buffer, offset, FRAME_HEADER_BYTES + length), done);
      } else {
        this.#socket.write(header(length));
        this.#socket.write(bytes.subarray(0, length), done);
      }
    } else {
      // A held frame or a foreign lease: header and body as two writes of one writev.
      this.#socket.write(header(length));
      this.#socket.write(bytes.subarray(0, length), () => lease.release());
    }
    this.#stats.framesOut++;
    this.#stats.bytesOut += length;
  }

  hold(frame: Uint8Array): Lease {
    const current = this.#current;
    if (current === undefined || current.frame !== frame) {
      throw holdMisuseError();
    }
    const lease = current.lease;
    if (lease === undefined) return new HeldFrame(frame, undefined); // a chunk view: GC owns it
    current.holds++;
    return new HeldFrame(frame, () => {
      if (--current.holds === 0 && this.#current !== current) this.#freeReassembled(lease);
    });
  }

  keepAlive(on: boolean): void {
    if (this.#closed) return; // a closing socket stays referenced until it is done (close())
    if (on) this.#socket.ref();
    else this.#socket.unref();
  }

  close(discard = false): void {
    if (this.#closed) {
      // A lingering close of ours, cut short.
      if (discard && this.#closedLocally) this.#socket.destroy();
      return;
    }
    this.#closed = true;
    this.#closedLocally = true;
    this.#stopReading();
    if (discard) {
      // Pending writes fail and their callbacks free the leases.
      this.#socket.destroy();
      return;
    }
    // Frames queued before close() still leave, then our FIN; the peer's bytes are read and
    // dropped until its FIN (a lingering close, as on io_uring: closing with unread bytes
    // resets the connection, and a reset can destroy our last frames, a GOAWAY and its
    // reason, before the peer read them). A peer that neither reads nor ends gets a reset.
    let waitingFor = this.#peerEnded ? 1 : 2;
    const done = () => {
      if (--waitingFor === 0) this.#socket.destroy();
    };
    this.#socket.end(done);
    if (!this.#peerEnded) {
      this.#socket.once("end", done);
      // A closing connection keeps the loop alive until it is done (as on the native engines).
      this.#socket.ref();
    }
    this.#drainTimer = setTimeout(() => this.#socket.destroy(), CLOSE_DRAIN_MS).unref();
  }

  stats(): NetChannelStats {
    return { ...this.#stats };
  }

  #checkLength(byteLength: number): void {
    checkFrameLength(byteLength, this.maxFrameBytes);
  }

  #cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#socket.cork();
    setImmediate(() => {
      this.#corked = false;
      this.#socket.uncork();
    });
  }

  #freeLease(offset: number): void {
    this.#host.region.free(offset);
    this.#host.space.notify();
  }

  #freeReassembled(lease: RegionLease): void {
    lease.release();
    this.#host.space.notify();
  }

  /** A lease for a frame that straddles chunks, if the rule of reassembly-share.ts allows one. */
  #reassemblyLease(length: number, headerBytes: number): RegionLease | null {
    const reassembly = this.#host.reassembly;
    if (!reassembly.admit(this, this.#unsent, length + headerBytes)) return null;
    const lease = this.#host.region.tryAllocate(length, headerBytes);
    if (lease === null) reassembly.release(this);
    return lease;
  }

  #deliver(frame: Uint8Array, origin: FrameOrigin): boolean {
    const lease = origin.kind === "lease" ? origin.lease : undefined;
    if (lease) this.#host.reassembly.release(this);
    if (this.#closed || !this.#events) {
      if (lease) this.#freeReassembled(lease);
      return false;
    }
    const stats = this.#stats;
    stats.framesIn++;
    stats.bytesIn += frame.byteLength;
    if (origin.kind !== "view") {
      stats.reassembled++;
      stats.reassembledBytes += frame.byteLength;
      if (origin.kind === "heap") stats.reassembledOnHeap++;
    }
    const current: CurrentFrame = { frame, lease, holds: 0 };
    this.#current = current;
    try {
      this.#events.onFrame(frame);
    } catch (error) {
      this.#fail(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#current = undefined;
      if (lease && current.holds === 0) this.#freeReassembled(lease);
    }
    return !this.#closed;
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    const error = this.#reader.push(chunk);
    if (error) this.#fail(error);
  }

  #onEnd(): void {
    if (this.#closed) return;
    if (this.#reader.midFrame) {
      this.#fail(codedError("ERR_PEER_CLOSED_MID_FRAME", "peer closed the connection in the middle of a frame"));
      return;
    }
    // A half-close: the peer may still read our answers. The owner closes when done;
    // without an onEnd, close() now (queued frames leave, then 'close' follows).
    this.#peerEnded = true;
    this.#stopReading();
    notifyPeerEnd(this.#events, () => this.close(), (error) => this.#fail(error));
  }

  #fail(error: Error): void {
    if (!this.#closedLocally) this.#error ??= error;
    this.#closed = true;
    this.#stopReading();
    this.#socket.destroy();
  }

  #stopReading(): void {
    this.#reader.dispose();
    this.#host.reassembly.release(this);
  }

  #onSocketClose(): void {
    clearTimeout(this.#drainTimer);
    this.#closed = true;
    this.#stopReading();
    if (this.#notified) return;
    this.#notified = true;
    this.#host.forget(this);
    try {
      this.#events?.onClose(this.#closedLocally ? undefined : this.#error);
    } finally {
      this.#resolveClosed();
    }
  }
}

function header(length: number): Buffer {
  const bytes = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  bytes.writeUInt32LE(length, 0);
  return bytes;
}
