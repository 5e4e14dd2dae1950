// LiveSet: the calls a server or transport has in flight (for shutdown and close), in
// place of a Set — for the garbage collector's sake, as StreamTable (stream-table.ts)
// explains: a Set that gains and loses an entry per call keeps replacing its backing
// table, and the replaced tables keep finished calls alive through young-generation GCs
// once one of them was promoted.
//
// An array that only grows (doubling, the replaced array emptied first); each member
// carries its index (`liveIndex`), so removal is O(1): the last member moves into the
// gap and its old slot is cleared.

/** A member of a LiveSet: its index there, -1 when in none. */
export interface LiveMember {
  liveIndex: number;
}

const INITIAL_CAPACITY = 16;

/** Members in no particular order; O(1) add and delete. */
export class LiveSet<T extends LiveMember> {
  #items: (T | undefined)[] = new Array<T | undefined>(INITIAL_CAPACITY).fill(undefined);
  #size = 0;

  /** Members in the set. */
  get size(): number {
    return this.#size;
  }

  /** Adds `member` (it must be in no LiveSet). */
  add(member: T): void {
    if (member.liveIndex !== -1) throw new Error("LiveSet.add(): already a member of a set");
    if (this.#size === this.#items.length) {
      const old = this.#items;
      const items = new Array<T | undefined>(old.length * 2).fill(undefined);
      for (let i = 0; i < old.length; i++) items[i] = old[i];
      old.fill(undefined);
      this.#items = items;
    }
    member.liveIndex = this.#size;
    this.#items[this.#size++] = member;
  }

  /** Removes `member`; false if it was not in this set. */
  delete(member: T): boolean {
    const index = member.liveIndex;
    if (index < 0 || index >= this.#size || this.#items[index] !== member) return false;
    const last = this.#items[--this.#size] as T;
    this.#items[index] = last;
    last.liveIndex = index;
    this.#items[this.#size] = undefined;
    member.liveIndex = -1;
    return true;
  }

  /** The members, as a new array (safe to iterate while members leave). */
  values(): T[] {
    return this.#items.slice(0, this.#size) as T[];
  }
}
