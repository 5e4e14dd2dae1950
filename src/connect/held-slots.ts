// The guard against receive slots used up by the application: under bytes: "alias" every
// kept message holds its frame, and on io_uring/RDMA a held frame pins its receive slot.
// When held frames reach the engine's recvSlots, a response could never arrive (receiving
// pauses until a slot is free), so a new call fails at once with ResourceExhausted naming
// the count instead of waiting for its deadline; a process warning fires once per
// transport when held frames pass half the slots (docs/LIFETIMES.md, "bytes: alias").

import { Code, ConnectError } from "@connectrpc/connect";
import type { ChannelEngine } from "../channel/channel.js";
import type { CopyCounters } from "./decode.js";

/** The code of the warning emitted when held frames pass half the receive slots. */
const ALIAS_HELD_WARNING = "CONNECT_RDMA_ALIAS_HELD";

const ADVICE =
  'call releaseMessage() on results you are done with (a stream item is released by asking for the next), raise the engine\'s region.recvSlots, or use bytes: "copy" (docs/LIFETIMES.md)';

/** Receive slots of an engine whose held frames pin slots (io_uring, RDMA); else undefined. */
function recvSlotsOf(engine: ChannelEngine | undefined): number | undefined {
  if (engine === undefined || (engine.name !== "uring" && engine.name !== "rdma")) return undefined;
  const region = (engine as { region?: { recvSlots?: unknown } }).region;
  return typeof region?.recvSlots === "number" ? region.recvSlots : undefined;
}

/** Checked by a transport when a call starts. */
export class HeldSlotsGuard {
  readonly #counters: CopyCounters;
  #warned = false;

  constructor(counters: CopyCounters) {
    this.#counters = counters;
  }

  /** Throws ResourceExhausted when held frames leave `engine` no receive slot for a response. */
  check(engine: ChannelEngine | undefined): void {
    const held = this.#counters.framesHeld;
    if (held === 0) return;
    const slots = recvSlotsOf(engine);
    if (slots === undefined) return;
    if (!this.#warned && held > slots / 2) {
      this.#warned = true;
      process.emitWarning(
        `${held} received frames are held by messages decoded with bytes: "alias" (framesHeld), more than half of the engine's recvSlots ${slots}; at ${slots} new calls fail with ResourceExhausted: ${ADVICE}`,
        { code: ALIAS_HELD_WARNING, type: "ConnectRdmaWarning" },
      );
    }
    if (held >= slots) {
      throw new ConnectError(
        `no receive slot left for a response: ${held} frames are held by messages decoded with bytes: "alias" (framesHeld) and the engine has recvSlots ${slots}; ${ADVICE}`,
        Code.ResourceExhausted,
      );
    }
  }
}
