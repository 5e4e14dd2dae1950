// Waiting for room in a Region's lease area (Channel.waitForSpace). Owns the set of waiters of one region: a waiter re-checks when the
// engine frees a lease itself (notify()) and on a short timer, because leases released
// by the application go straight to the Region and nobody tells us.

import type { Region } from "../region.js";
import { codedError } from "../errors.js";

/** How often a waiter re-checks when nobody called notify(), in milliseconds. */
const RECHECK_MS = 2;

/** Waiters for free lease memory in one Region. */
export class RegionSpace {
  readonly #region: Region;
  readonly #waiters = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;

  constructor(region: Region) {
    this.#region = region;
  }

  /** True when a lease of `bytes` bytes (header included) could be allocated now. */
  fits(bytes: number): boolean {
    if (this.#region.closed) return false;
    const probe = this.#region.tryAllocate(bytes);
    if (probe === null) return false;
    probe.release();
    return true;
  }

  /**
   * Resolves once `bytes` bytes fit (and `admits()`, the caller's own bound, says yes);
   * rejects with ERR_REGION_FULL after `timeoutMs`, or with the error `abort()` returns
   * as soon as it returns one (e.g. channel closed).
   */
  wait(bytes: number, timeoutMs: number, abort: () => Error | undefined, admits: () => boolean = () => true): Promise<void> {
    const early = abort();
    if (early) return Promise.reject(early);
    if (admits() && this.fits(bytes)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => {
        done();
        reject(codedError("ERR_REGION_FULL", `Region has no free run of ${bytes} bytes after ${timeoutMs} ms`));
      }, timeoutMs);
      const check = (): void => {
        const error = abort();
        if (error) {
          done();
          reject(error);
        } else if (admits() && this.fits(bytes)) {
          done();
          resolve();
        }
      };
      const done = (): void => {
        clearTimeout(deadline);
        this.#waiters.delete(check);
        if (this.#waiters.size === 0) this.#stopTimer();
      };
      this.#waiters.add(check);
      this.#startTimer();
    });
  }

  /** Tells the waiters that memory was freed (or that something they watch changed). */
  notify(): void {
    if (this.#waiters.size === 0) return;
    for (const wake of [...this.#waiters]) wake();
  }

  #startTimer(): void {
    if (this.#timer) return;
    // Unref'd: a pending wait() keeps the process alive through its deadline timer.
    this.#timer = setInterval(() => this.notify(), RECHECK_MS).unref();
  }

  #stopTimer(): void {
    if (!this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
