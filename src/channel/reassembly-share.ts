// ReassemblyShare: which frames the net engine reassembles into region leases
// (docs/LIMITS.md, "unsent bytes per connection" and "lease area"); the io_uring engine
// applies the same rule natively (native/common/reassembly_share.h). A frame that
// straddles socket chunks is copied once, into a lease when the rule allows, else onto
// the heap (net-frame-reader.ts), so the lease area every connection of the engine sends
// from cannot be filled by peers trickling large frames. The rule:
//   - a frame whose lease fits what its connection's share (maxUnsentBytes) leaves after
//     the connection's unsent frames takes a lease;
//   - any other frame (every frame larger than the share among them) takes the engine's
//     one over-share place, if free.
// One per engine.
import type { SendShare } from "./send-share.js";

export class ReassemblyShare {
  readonly #share: SendShare;
  /** The connection whose frame holds the over-share place. */
  #overShare: object | undefined;

  constructor(share: SendShare) {
    this.#share = share;
  }

  /**
   * May `owner`, holding `unsent` lease bytes in frames to send, reassemble a frame of
   * `bytes` bytes (header included) into a lease? True may take the over-share place:
   * give it back with release() when the frame is complete, gone, or got no lease.
   */
  admit(owner: object, unsent: number, bytes: number): boolean {
    if (unsent + this.#share.size(bytes) <= this.#share.limit) return true;
    if (this.#overShare !== undefined && this.#overShare !== owner) return false;
    this.#overShare = owner;
    return true;
  }

  /** `owner`'s frame is complete or gone: the over-share place is free if it held it. */
  release(owner: object): void {
    if (this.#overShare === owner) this.#overShare = undefined;
  }
}
