// Region and Lease: the registered memory every channel sends from and receives into.
// A Region is one native mapping exposed as ONE external ArrayBuffer:
//   [ receive slots: recvSlots x slotSize ][ lease area: leaseBytes ]
// Leases are runs of the lease area owned by exactly one party at a time (the
// application, a pending send, or JS holding a received frame). See docs/LIFETIMES.md.
import { native, type NativeRegion, type NativeRegionStats } from "./binding.js";
import { codedError } from "./errors.js";

/** A slot of memory owned by exactly one party at a time. */
export interface Lease {
  /** The writable (or received) bytes. Throws (code ERR_LEASE_RELEASED) once released. */
  readonly bytes: Uint8Array;
  /** True once released (or handed to `send()`). */
  readonly released: boolean;
  /** Returns the memory. Idempotent. */
  release(): void;
}

/** Sizes of a region. */
export interface RegionOptions {
  /** Bytes per receive slot (default 16 KiB). Frames up to this size arrive without a copy. */
  slotSize?: number;
  /** Number of receive slots (default 512). */
  recvSlots?: number;
  /** Bytes for leases: frames being sent, frames reassembled on receive (default 64 MiB). */
  leaseBytes?: number;
  /** Overwrite memory with 0xDB when it is given back (tests of lifetime rules). */
  poison?: boolean;
}

const DEFAULTS = { slotSize: 16 * 1024, recvSlots: 512, leaseBytes: 64 * 1024 * 1024 };

function checkSize(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Region option ${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/** One registered memory region. */
export class Region {
  /** Bytes per receive slot. */
  readonly slotSize: number;
  /** Number of receive slots. */
  readonly recvSlots: number;
  /** `slotSize × recvSlots`: the receive area at the start of the region. */
  readonly recvAreaBytes: number;
  /** Bytes of the lease area that follows the receive area. */
  readonly leaseBytes: number;
  /** Allocation granularity of the lease area: a lease takes whole units. */
  readonly leaseUnit: number;
  #native: NativeRegion;
  #buffer: ArrayBuffer;
  #closed = false;

  constructor(options: RegionOptions = {}) {
    this.slotSize = checkSize("slotSize", options.slotSize ?? DEFAULTS.slotSize, 256, 1 << 24);
    this.recvSlots = checkSize("recvSlots", options.recvSlots ?? DEFAULTS.recvSlots, 1, 32768);
    this.leaseBytes = checkSize("leaseBytes", options.leaseBytes ?? DEFAULTS.leaseBytes, 4096, 2 ** 31 - 1 - this.slotSize * this.recvSlots);
    this.recvAreaBytes = this.slotSize * this.recvSlots;
    this.#native = new (native().Region)(this.slotSize, this.recvSlots, this.leaseBytes, options.poison ?? false);
    this.#buffer = this.#native.buffer!;
    this.leaseUnit = this.#native.stats().leaseUnit;
  }

  /** The region's one ArrayBuffer (detached, byteLength 0, after close()). */
  get buffer(): ArrayBuffer {
    return this.#buffer;
  }

  /** True after close(). */
  get closed(): boolean {
    return this.#closed;
  }

  /** @internal The native object (engines register on it). */
  get native(): NativeRegion {
    return this.#native;
  }

  /**
   * A lease whose `bytes` are `byteLength` bytes placed `headerBytes` after the lease
   * start (room for a frame header written by the channel). null when full.
   */
  tryAllocate(byteLength: number, headerBytes = 0): RegionLease | null {
    if (this.#closed) throw codedError("ERR_REGION_CLOSED", "Region is closed");
    const offset = this.#native.alloc(byteLength + headerBytes);
    if (offset < 0) return null;
    return new RegionLease(this, offset, headerBytes, byteLength);
  }

  /** @internal A lease's region offset (no header room, no object), or -1 when full: send packs. */
  allocOffset(byteLength: number): number {
    if (this.#closed) throw codedError("ERR_REGION_CLOSED", "Region is closed");
    return this.#native.alloc(byteLength);
  }

  /** Like tryAllocate(), but throws an Error with code ERR_REGION_FULL when full. */
  allocate(byteLength: number, headerBytes = 0): RegionLease {
    const lease = this.tryAllocate(byteLength, headerBytes);
    if (!lease) {
      throw codedError("ERR_REGION_FULL", `Region has no free run of ${byteLength + headerBytes} bytes (lease area ${this.leaseBytes} bytes)`);
    }
    return lease;
  }

  /** @internal Gives a lease's memory back. */
  free(offset: number): void {
    if (!this.#closed) this.#native.free(offset);
  }

  /** Detaches the ArrayBuffer (stale views read length 0) and lets the memory go. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }

  /** Sizes and lease counters (live leases, bytes in use). */
  stats(): NativeRegionStats {
    return this.#native.stats();
  }
}

const EMPTY = new Uint8Array(0);

/** A lease inside a Region. */
export class RegionLease implements Lease {
  /** The region the lease belongs to. */
  readonly region: Region;
  /** Region offset of the lease start (where a frame header goes). */
  readonly offset: number;
  #bytes: Uint8Array | undefined;

  constructor(region: Region, offset: number, headerBytes: number, byteLength: number) {
    this.region = region;
    this.offset = offset;
    this.#bytes = new Uint8Array(region.buffer, offset + headerBytes, byteLength);
  }

  get bytes(): Uint8Array {
    if (!this.#bytes) throw codedError("ERR_LEASE_RELEASED", "Lease was released (or handed to send())");
    return this.region.closed ? EMPTY : this.#bytes;
  }

  get released(): boolean {
    return this.#bytes === undefined;
  }

  release(): void {
    if (!this.#bytes) return;
    this.#bytes = undefined;
    this.region.free(this.offset);
  }

  /** @internal Ends JS ownership without freeing (the memory now belongs to a send). */
  transfer(): number {
    if (!this.#bytes) throw codedError("ERR_LEASE_RELEASED", "Lease was released (or handed to send())");
    this.#bytes = undefined;
    return this.offset;
  }
}
