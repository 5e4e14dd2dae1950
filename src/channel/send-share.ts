// SendShare: how much of an engine's lease area one connection may hold in frames handed
// to send() and not written out yet (docs/LIMITS.md, "unsent bytes per connection"). The
// lease area is shared by every connection of an engine: without a share, one peer that
// stops reading keeps all of it and every other connection's sends wait, then fail
// (test/hostile/faults.test.ts, "region exhaustion"). Counted in lease bytes (whole
// allocation units), since that is what a frame takes from the area. A connection with
// nothing unsent may always queue one frame, so a frame larger than the share still goes.

/** Upper bound of the default share. */
const MAX_DEFAULT_UNSENT_BYTES = 16 * 1024 * 1024;

/**
 * The default share: three quarters of the lease area, at most 16 MiB. The other
 * connections always keep a quarter, and a default 64 MiB area needs four stuck peers
 * (each closed after 2 × sendTimeoutMs without progress) to be exhausted.
 */
export function defaultMaxUnsentBytes(leaseBytes: number): number {
  return Math.min(MAX_DEFAULT_UNSENT_BYTES, Math.floor((leaseBytes * 3) / 4));
}

/** One engine's per-connection share. */
export class SendShare {
  /** Lease bytes one connection may hold unsent. */
  readonly limit: number;
  readonly #unit: number;

  /** `option`: the engine's `maxUnsentBytes` (validated here); `unit`: the lease granularity. */
  constructor(option: number | undefined, leaseBytes: number, unit: number) {
    const limit = option ?? defaultMaxUnsentBytes(leaseBytes);
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`maxUnsentBytes must be a positive integer, got ${option}`);
    }
    this.limit = limit;
    this.#unit = unit;
  }

  /** Lease bytes a frame of `bytes` bytes (header included) takes. */
  size(bytes: number): number {
    return Math.ceil(bytes / this.#unit) * this.#unit;
  }

  /** True when a connection holding `unsent` lease bytes may queue a frame of `bytes` more. */
  admits(unsent: number, bytes: number): boolean {
    return unsent <= 0 || unsent + this.size(bytes) <= this.limit;
  }
}
