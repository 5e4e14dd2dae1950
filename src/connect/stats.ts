// Counters of a transport or a server (stats()): calls, messages and their bytes,
// copies (on send only for encoder fallbacks and frames that waited; bytes/unknown fields
// copied out under the "copy" policy), frames held under "alias", plus the channels'
// frame and reassembly counters.

import type { ChannelStats } from "../channel/channel.js";
import type { CopyCounters } from "./decode.js";
import type { SendCounters } from "./encode.js";

/** Counters reported by `stats()` of transports and servers. */
export interface RpcStats {
  /** Connections currently open. */
  connections: number;
  /** Calls begun since creation. */
  callsStarted: number;
  /** Calls in flight right now. */
  callsActive: number;
  /** Protobuf messages received (requests on a server, responses on a client). */
  messagesIn: number;
  /** Protobuf messages sent. */
  messagesOut: number;
  /** Bytes of protobuf message payloads (not frames). */
  bytesIn: number;
  /** Bytes of protobuf message payloads sent. */
  bytesOut: number;
  /**
   * Copies of message data made by this library: one per `bytes`/unknown field copied
   * out of a received frame, and on send one per message that was not encoded straight
   * into its lease (an encoder fallback, or a frame that had to wait for region space or
   * flow-control credit). 0 on send for covered messages sent at once.
   */
  copies: number;
  /** Bytes of those copies. */
  copiedBytes: number;
  /** The copies of `copies` made on send: 0 for covered messages sent at once. */
  sendCopies: number;
  /**
   * Messages sent through toBinary + copy because the in-place encoder could not write
   * them (type not covered, or `writeUnknownFields: false`; docs/ENCODING.md).
   */
  encodeFallbacks: number;
  /** Received frames currently held alive by alias-decoded messages. */
  framesHeld: number;
  /** Channel counters, summed over current and past connections: frames received. */
  framesIn: number;
  /** Frames sent (messages, metadata, control frames). */
  framesOut: number;
  /** Bytes of frames received (what the wire protocol carried, headers included). */
  wireBytesIn: number;
  /** Bytes of frames sent. */
  wireBytesOut: number;
  /** Frames the channel had to reassemble (copy once) because they straddled buffers. */
  reassembled: number;
  /** Bytes of those frames. */
  reassembledBytes: number;
}

/** Mutable counters shared by the calls of one transport or server. */
export class Counters implements CopyCounters, SendCounters {
  callsStarted = 0;
  callsActive = 0;
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  copies = 0;
  copiedBytes = 0;
  sendCopies = 0;
  encodeFallbacks = 0;
  framesHeld = 0;

  /** Counts a message sent (its copies, if any, are counted where they are made). */
  sent(byteLength: number): void {
    this.messagesOut++;
    this.bytesOut += byteLength;
  }

  received(byteLength: number): void {
    this.messagesIn++;
    this.bytesIn += byteLength;
  }

  snapshot(connections: number, channels: ChannelStats): RpcStats {
    return {
      connections,
      callsStarted: this.callsStarted,
      callsActive: this.callsActive,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      copies: this.copies,
      copiedBytes: this.copiedBytes,
      sendCopies: this.sendCopies,
      encodeFallbacks: this.encodeFallbacks,
      framesHeld: this.framesHeld,
      framesIn: channels.framesIn,
      framesOut: channels.framesOut,
      wireBytesIn: channels.bytesIn,
      wireBytesOut: channels.bytesOut,
      reassembled: channels.reassembled,
      reassembledBytes: channels.reassembledBytes,
    };
  }
}

export { addChannelStats, emptyChannelStats } from "../channel/channel-stats.js";
