// InPlaceLease: a frame being written straight into a connection's outgoing memory (an
// shm:// ring record reserved by allocate(); docs/CHANNELS.md §5.2, "Send"). Its bytes are
// a view of the connection's one ArrayBuffer; send() commits the record where it lies
// (transfer()), release() without a send drops the reservation (the engine's give-back).
import { codedError } from "../errors.js";
import type { Lease } from "./channel.js";

/** A lease that is ring space of one channel. */
export class InPlaceLease implements Lease {
  /** The channel that reserved it (send() takes it only there). */
  readonly owner: object;
  #bytes: Uint8Array | undefined;
  readonly #abandon: (offset: number) => void;

  constructor(owner: object, bytes: Uint8Array, abandon: (offset: number) => void) {
    this.owner = owner;
    this.#bytes = bytes;
    this.#abandon = abandon;
  }

  get bytes(): Uint8Array {
    if (!this.#bytes) throw codedError("ERR_LEASE_RELEASED", "Lease was released (or handed to send())");
    return this.#bytes;
  }

  get released(): boolean {
    return this.#bytes === undefined;
  }

  release(): void {
    if (!this.#bytes) return;
    const offset = this.#bytes.byteOffset;
    this.#bytes = undefined;
    this.#abandon(offset);
  }

  /** @internal Ends JS ownership; returns the body's offset (the record is committed by the caller). */
  transfer(): number {
    if (!this.#bytes) throw codedError("ERR_LEASE_RELEASED", "Lease was released (or handed to send())");
    const offset = this.#bytes.byteOffset;
    this.#bytes = undefined;
    return offset;
  }
}
