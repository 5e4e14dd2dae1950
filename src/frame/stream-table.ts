// StreamTable: a session's open streams by id, in place of a Map — for the garbage
// collector's sake (docs/TUNING.md, "Garbage collection").
//
// Why not a Map: a Map whose entries churn (a stream added and removed per call) gets a
// new backing table every few dozen calls, and V8 leaves the old table linked to the new
// one with its entries still in it. Once one such table has been promoted to the old
// generation, each young-generation GC keeps alive every table after it and every stream
// they ever held, with everything those streams reference: at 64 calls in flight about
// 1.2 KB per call was promoted, and the young GCs spent ~10 ms per collection copying it.
// This table is one array that only grows (doubling, when half full); a removed
// stream's slot is cleared, and an array replaced by a larger one is emptied first, so
// nothing a dead array holds can keep a finished call alive.
//
// Open addressing keyed by the stream id: ids are handed out in sequence, so `id & mask`
// spreads the live ones without collisions until the ids wrap around the capacity;
// linear probing with backward-shift deletion (no tombstones).

/** What the table holds: anything with a stream id. */
export interface HasStreamId {
  readonly id: number;
}

const INITIAL_CAPACITY = 64;

/** Open streams by id. */
export class StreamTable<T extends HasStreamId> {
  #slots: (T | undefined)[] = new Array<T | undefined>(INITIAL_CAPACITY).fill(undefined);
  #mask = INITIAL_CAPACITY - 1;
  #size = 0;

  /** Streams in the table. */
  get size(): number {
    return this.#size;
  }

  /** The stream with this id, if open. */
  get(id: number): T | undefined {
    const slots = this.#slots;
    const mask = this.#mask;
    for (let i = id & mask; ; i = (i + 1) & mask) {
      const entry = slots[i];
      if (entry === undefined || entry.id === id) return entry;
    }
  }

  /** Adds a stream; its id must not be in the table. */
  add(entry: T): void {
    if ((this.#size + 1) * 2 > this.#slots.length) this.#grow();
    this.#place(this.#slots, entry);
    this.#size++;
  }

  /** Removes the stream with this id; false if there was none. */
  delete(id: number): boolean {
    const slots = this.#slots;
    const mask = this.#mask;
    let hole = id & mask;
    for (;;) {
      const entry = slots[hole];
      if (entry === undefined) return false;
      if (entry.id === id) break;
      hole = (hole + 1) & mask;
    }
    // Backward shift: move later entries of the probe run into the hole when their home
    // slot does not lie (cyclically) between the hole and where they are.
    for (let next = (hole + 1) & mask; ; next = (next + 1) & mask) {
      const entry = slots[next];
      if (entry === undefined) break;
      const home = entry.id & mask;
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      slots[hole] = entry;
      hole = next;
    }
    slots[hole] = undefined;
    this.#size--;
    return true;
  }

  /** The open streams, oldest (lowest id) first, as a new array (safe to iterate while streams close). */
  values(): T[] {
    const out: T[] = [];
    for (const entry of this.#slots) if (entry !== undefined) out.push(entry);
    return out.sort((a, b) => a.id - b.id);
  }

  #grow(): void {
    const old = this.#slots;
    const slots = new Array<T | undefined>(old.length * 2).fill(undefined);
    this.#mask = slots.length - 1;
    for (const entry of old) if (entry !== undefined) this.#place(slots, entry);
    old.fill(undefined);
    this.#slots = slots;
  }

  #place(slots: (T | undefined)[], entry: T): void {
    const mask = this.#mask;
    let i = entry.id & mask;
    while (slots[i] !== undefined) i = (i + 1) & mask;
    slots[i] = entry;
  }
}
