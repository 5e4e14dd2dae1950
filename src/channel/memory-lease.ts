// A lease of the memory engine: one slot of its pool, owned by one party at a time.
import type { Lease } from "./channel.js";
import type { SlotPool } from "./memory-pool.js";

const EMPTY = new Uint8Array(0);

/** A slot leased from a pool; `bytes` reads as length 0 once released. */
export class MemoryLease implements Lease {
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
