// The channel frame headers an engine puts in front of a frame's body in the lease
// (docs/CHANNELS.md): their sizes are the room a lease keeps ahead of the body; and the
// error of a byte stream whose first frame is beyond its listener's bound (a peer
// speaking something else).
import { codedError, type CodedError } from "../errors.js";

/** io_uring and node:net byte streams: a u32 little-endian length (docs/CHANNELS.md §1). */
export const STREAM_FRAME_HEADER_BYTES = 4;

/** RDMA: the 8-byte header every RDMA SEND carries (docs/CHANNELS.md §2; native/rdma/rdma_wire.h). */
export const RDMA_MESSAGE_HEADER_BYTES = 8;

/** What a connection whose first frame announces more than its listener's `firstFrameMaxBytes` closes with. */
export function notProtocolError(limit?: number): CodedError {
  return codedError(
    "ERR_NOT_PROTOCOL",
    `the peer's first frame announces more than the ${limit !== undefined ? `${limit} ` : ""}bytes this listener allows: it does not speak this protocol (a TLS client at a server without tls?); connection closed`,
  );
}
