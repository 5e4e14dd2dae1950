// Sums of channel counters (ChannelStats, channel.ts): an engine's totals over its
// channels, a transport's over its sessions.
import type { ChannelStats } from "./channel.js";

/** Adds `from` to `into`, counter by counter. */
export function addChannelStats(into: ChannelStats, from: ChannelStats): void {
  into.framesIn += from.framesIn;
  into.framesOut += from.framesOut;
  into.bytesIn += from.bytesIn;
  into.bytesOut += from.bytesOut;
  into.reassembled += from.reassembled;
  into.reassembledBytes += from.reassembledBytes;
}

/** Every counter at 0. */
export function emptyChannelStats(): ChannelStats {
  return { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, reassembled: 0, reassembledBytes: 0 };
}
