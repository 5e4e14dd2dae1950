// StreamSlots: how many streams a session may have at once, and who gets the next slot
// (docs/PROTOCOL.md §4.7). A slot is in use while its stream is open, while a client call
// holds it reserved, and (server) while the handler of an ended stream still runs.
//   - client: a call reserves its slot synchronously when one is free, else waits in FIFO
//     order; a freed slot is handed to the oldest waiter at once, so no other call can
//     take it in between. (A check followed by an await let a whole burst of calls pass
//     the check in one turn and open far more streams than the server allows:
//     test/hostile/faults.test.ts, "10,000 concurrent calls".)
//   - server: a stream that ended (CANCEL, END, reset) keeps its slot until its handler
//     settled, so max_concurrent_streams bounds the handlers running, not only the
//     streams open: CALL_START + CANCEL pairs ("rapid reset", CVE-2023-44487) cannot run
//     more handlers than that (test/hostile/bad-input.test.ts, "concurrent streams").

interface Waiter {
  grant(): void;
  drop(): void;
}

/** The stream slots of one session. */
export class StreamSlots {
  /** Streams open in the session's table. */
  readonly #open: () => number;
  #limit: number;
  /** Client: slots granted to calls that have not opened their stream yet. */
  #reserved = 0;
  /** Server: ended streams whose handlers still run. */
  #lingering = 0;
  /** Calls waiting for a slot, oldest first (a Set keeps insertion order, deletes in O(1)). */
  readonly #waiters = new Set<Waiter>();

  constructor(open: () => number, limit: number) {
    this.#open = open;
    this.#limit = limit;
  }

  /** The bound (the client learns it from the server's HELLO). */
  set limit(limit: number) {
    this.#limit = limit;
    this.grant();
  }

  /** Server: ended streams whose handlers still run. */
  get lingering(): number {
    return this.#lingering;
  }

  /** True when one more stream fits. */
  get free(): boolean {
    return this.#open() + this.#reserved + this.#lingering < this.#limit;
  }

  /** Client: reserves a slot if one is free and nobody waits for one; true if it did. */
  tryReserve(): boolean {
    if (this.#waiters.size > 0 || !this.free) return false;
    this.#reserved++;
    return true;
  }

  /**
   * Client: waits for a slot (FIFO). Resolves true with the slot reserved for the caller,
   * false when `signal` aborted or dropAll() was called (nothing reserved then).
   */
  reserve(signal?: AbortSignal): Promise<boolean> {
    if (this.tryReserve()) return Promise.resolve(true);
    if (signal?.aborted === true) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const onAbort = (): void => {
        this.#waiters.delete(waiter);
        resolve(false);
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(true);
        },
        drop: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(false);
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Client: a stream was opened with a reserved slot. */
  take(): void {
    if (this.#reserved > 0) this.#reserved--;
  }

  /** Client: a reserved slot is given back unused. */
  unreserve(): void {
    if (this.#reserved > 0) this.#reserved--;
    this.grant();
  }

  /** Server: a stream ended while its handler runs; its slot stays in use. */
  linger(): void {
    this.#lingering++;
  }

  /** Server: the handler of an ended stream settled; its slot is free. */
  settled(): void {
    if (this.#lingering > 0) this.#lingering--;
  }

  /** Hands free slots to the oldest waiters (call when a stream ended). */
  grant(): void {
    for (const waiter of this.#waiters) {
      if (!this.free) return;
      this.#waiters.delete(waiter);
      this.#reserved++;
      waiter.grant();
    }
  }

  /** The session closed or drains: every waiter resolves false (and goes elsewhere). */
  dropAll(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w.drop();
  }
}
