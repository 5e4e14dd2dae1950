// The channel frame headers an engine puts in front of a frame's body in the lease
// (docs/CHANNELS.md): their sizes are the room a lease keeps ahead of the body.

/** io_uring and node:net byte streams: a u32 little-endian length (docs/CHANNELS.md §1). */
export const STREAM_FRAME_HEADER_BYTES = 4;

/** RDMA: the 8-byte header every RDMA SEND carries (docs/CHANNELS.md §2; native/rdma/rdma_wire.h). */
export const RDMA_MESSAGE_HEADER_BYTES = 8;
