// ShmEngine: the shared-memory ChannelEngine (shm:///path/to/rendezvous.sock) between
// processes of one host. The server listens on a Unix socket; per connection it creates a
// sealed memfd region holding one ring per direction and passes it with SCM_RIGHTS
// (docs/CHANNELS.md §5). Each side maps it once, as ONE ArrayBuffer per connection:
// received frames are views into that mapping (read in place); a frame to send is written
// in place too: allocate() reserves a record in the outgoing ring when it has room and
// nothing waits before it (else a region lease, copied once into the ring). Peers must
// run as the same user unless `allowOtherUsers` says otherwise.
import { native, type NativeShmEngine, type NativeShmEngineStats } from "../binding.js";
import type { Lease, Region } from "../region.js";
import type { ChannelAddress } from "./address.js";
import type { ListenOptions } from "./channel.js";
import { HeldFrame } from "./held-frame.js";
import { NativeEngineBase, type NativeEngineOptions, type OpenedListener } from "./native-engine-base.js";
import { systemError } from "./system-error.js";

/** Options of an shm engine. */
export interface ShmEngineOptions extends NativeEngineOptions {
  /**
   * Bytes of each ring (one per direction) of the connections this engine accepts: a power
   * of two in [64 KiB, 1 GiB] (default 8 MiB). The accepting side's value applies to a
   * connection. A frame must fit in half a ring: maxFrameBytes defaults to ringBytes/2 - 8.
   */
  ringBytes?: number;
  /** Accept and connect to peers running as another user (default false: SO_PEERCRED must match). */
  allowOtherUsers?: boolean;
  /**
   * An accepted peer that has not answered the rendezvous (its eventfd) within this many
   * ms is closed; at most 64 accepted peers wait at once, more are closed at accept.
   * Default 10000 (the session handshake's timeout).
   */
  rendezvousTimeoutMs?: number;
}

const DEFAULT_RING_BYTES = 8 * 1024 * 1024;
const DEFAULT_RENDEZVOUS_TIMEOUT_MS = 10_000;

/** The shared-memory engine. */
export class ShmEngine extends NativeEngineBase<NativeShmEngine> {
  /** Always "shm". */
  readonly name = "shm" as const;

  constructor(options: ShmEngineOptions = {}) {
    const ringBytes = options.ringBytes ?? DEFAULT_RING_BYTES;
    if (!Number.isInteger(ringBytes) || ringBytes < 65536 || ringBytes > 2 ** 30 || (ringBytes & (ringBytes - 1)) !== 0) {
      throw new RangeError(`ringBytes must be a power of two in [64 KiB, 1 GiB], got ${options.ringBytes}`);
    }
    const largest = ringBytes / 2 - 8;
    const maxFrameBytes = options.maxFrameBytes ?? largest;
    if (maxFrameBytes > largest) throw new RangeError(`maxFrameBytes ${maxFrameBytes} does not fit half a ring of ${ringBytes} bytes (at most ${largest})`);
    const sameUserOnly = options.allowOtherUsers !== true;
    const rendezvousTimeoutMs = options.rendezvousTimeoutMs ?? DEFAULT_RENDEZVOUS_TIMEOUT_MS;
    if (!Number.isInteger(rendezvousTimeoutMs) || rendezvousTimeoutMs < 1 || rendezvousTimeoutMs > 2 ** 31) {
      throw new RangeError(`rendezvousTimeoutMs must be a positive integer of ms, got ${options.rendezvousTimeoutMs}`);
    }
    // No receive slots: frames arrive in the connections' rings. The lease area holds the
    // frames that could not be written in place (copied into a ring once it has room).
    const region = { slotSize: 4096, recvSlots: 1, ...options.region };
    // Like io_uring: answers queued by each chunk of 16 frames are published (and the peer
    // woken) before the next chunk is handed to JS, so both processes work at once.
    const dispatchChunk = options.dispatchChunk ?? 16;
    super({ ...options, region, maxFrameBytes, dispatchChunk }, 0, (r: Region, max, events, onEvents) =>
      new (native().ShmEngine)(r.native, ringBytes, max, sameUserOnly, events, onEvents, rendezvousTimeoutMs),
    );
  }

  /** The rendezvous ended before the server's Hello (native/shm/shm_engine.cc OnHello): it refused us. */
  protected override connectFailure(code: string): string {
    if (code !== "ECONNREFUSED") return code;
    return "the server refused the connection: it closed the rendezvous before handing over the shared region (a server whose unix option does not admit this process's uid/gid counts it in stats().refusedPeers; 64 pending rendezvous also refuse more) (ECONNREFUSED)";
  }

  protected async startConnect(address: ChannelAddress): Promise<number> {
    if (address.scheme !== "shm") throw new TypeError(`the shm engine carries shm:// URLs, not ${address.scheme}://`);
    return this.native.connect(address.path);
  }

  protected async startListen(address: ChannelAddress, socketMode: number, options?: ListenOptions): Promise<OpenedListener> {
    if (address.scheme !== "shm") throw new TypeError(`the shm engine listens on shm:// URLs, not ${address.scheme}://`);
    const id = this.native.listen(address.path, this.backlog, socketMode, options?.admit?.uids, options?.admit?.gids);
    return { id, bound: address, unixPath: address.path };
  }

  /** @internal The connection's one ArrayBuffer (asked once, by its channel). */
  bufferOf(id: number): ArrayBuffer | undefined {
    return this.native.buffer(id);
  }

  /** @internal Frames written straight into a connection's outgoing ring (NativeChannel.allocate/send). */
  readonly inPlace = {
    reserve: (id: number, byteLength: number): number => this.native.reserveInPlace(id, byteLength),
    commit: (id: number, offset: number, length: number): number => this.native.commitInPlace(id, offset, length),
    abandon: (id: number, offset: number): void => this.native.abandonInPlace(id, offset),
  };

  /** @internal Keeps a frame read in place: its ring space stays taken until release(). */
  holdInPlace(id: number, frame: Uint8Array): Lease {
    const token = this.native.holdFrame(id, frame.byteOffset);
    if (token < 0) throw systemError(token, "holdFrame");
    // The ring space stays taken until release().
    return new HeldFrame(frame, () => {
      if (!this.closed) this.native.releaseFrame(id, token);
    });
  }

  /** Engine-wide counters. */
  stats(): NativeShmEngineStats & {
    /** Channels open right now. */
    channels: number;
    /** The region's sizes and lease counters (frames that went the copying way: written in a lease, then copied into a ring). */
    region: ReturnType<Region["stats"]>;
    /** The channel-wide names: shm never reassembles (frames are read in place). */
    reassembled: number;
    reassembledBytes: number;
  } {
    return { ...this.native.stats(), channels: this.channelCount, region: this.region.stats(), reassembled: 0, reassembledBytes: 0 };
  }
}
