// The memory engine's "region": a bounded pool of power-of-two slots, reused LIFO and
// poisoned on release, so a view that outlives its slot sees different bytes.

const MIN_SLOT = 64;

function slotClass(byteLength: number): number {
  return byteLength <= MIN_SLOT ? MIN_SLOT : 2 ** Math.ceil(Math.log2(byteLength));
}

/** A bounded pool of power-of-two slots with LIFO reuse and poisoning. */
export class SlotPool {
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
