// A small cache of strings decoded from frames, looked up by their bytes: a server reads
// the same few method paths on every call, and comparing 30 bytes costs a tenth of
// decoding them. Bounded: at most `capacity` entries, replaced in turn once full, so a
// peer that sends endless distinct strings costs a fixed amount of memory.

/** Strings already decoded, with a copy of their bytes. */
export class DecodedStrings {
  readonly #bytes: Uint8Array[] = [];
  readonly #texts: string[] = [];
  readonly #capacity: number;
  readonly #maxBytes: number;
  #next = 0;

  /** At most `capacity` strings of at most `maxBytes` bytes each. */
  constructor(capacity: number, maxBytes: number) {
    this.#capacity = capacity;
    this.#maxBytes = maxBytes;
  }

  /** The string the `n` bytes at `offset` of `memory` decoded to before, or undefined. */
  find(memory: Uint8Array, offset: number, n: number): string | undefined {
    const all = this.#bytes;
    for (let e = 0; e < all.length; e++) {
      const known = all[e] as Uint8Array;
      if (known.length !== n) continue;
      let i = 0;
      while (i < n && known[i] === memory[offset + i]) i++;
      if (i === n) return this.#texts[e];
    }
    return undefined;
  }

  /** Remembers that the `n` bytes at `offset` of `memory` decode to `text`. */
  add(memory: Uint8Array, offset: number, n: number, text: string): void {
    if (n > this.#maxBytes) return;
    const bytes = memory.slice(offset, offset + n);
    if (this.#bytes.length < this.#capacity) {
      this.#bytes.push(bytes);
      this.#texts.push(text);
      return;
    }
    this.#bytes[this.#next] = bytes;
    this.#texts[this.#next] = text;
    this.#next = (this.#next + 1) % this.#capacity;
  }
}
