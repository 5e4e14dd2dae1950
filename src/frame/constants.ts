// Numbers of the wire protocol (docs/PROTOCOL.md): frame kinds, flag bits, header
// layout, protocol versions and default limits. Nothing here has behaviour.

/** Protocol versions this implementation speaks (inclusive range). */
export const PROTOCOL_VERSION = 3;
export const MIN_PROTOCOL_VERSION = 2;

/** Every frame starts with: u8 kind, u8 flags, u16 reserved (0), u32 stream id. */
export const HEADER_BYTES = 8;

/**
 * The most a connection's first frame (the client's HELLO, at most a few hundred bytes)
 * may announce: a server's listeners close a connection announcing more at once. A TLS
 * record header (0x16 0x03 0x01 ...) read as a frame length is at least 66,326, so a TLS
 * client at a plaintext server is closed at its first bytes instead of being waited for
 * until the handshake times out (docs/PROTOCOL.md §4).
 */
export const FIRST_FRAME_MAX_BYTES = 64 * 1024;

/** Frame kinds. */
export const FrameKind = {
  HELLO: 1,
  CALL_START: 2,
  HEADERS: 3,
  MESSAGE: 4,
  END: 5,
  CANCEL: 6,
  CREDIT: 7,
  PING: 8,
  PONG: 9,
  GOAWAY: 10,
  AUTH: 11,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** Names of frame kinds, for error messages. */
export const frameKindName: Record<number, string> = {
  1: "HELLO",
  2: "CALL_START",
  3: "HEADERS",
  4: "MESSAGE",
  5: "END",
  6: "CANCEL",
  7: "CREDIT",
  8: "PING",
  9: "PONG",
  10: "GOAWAY",
  11: "AUTH",
};

/** Flag bits. Which bits a kind allows is listed in ALLOWED_FLAGS. */
export const Flag = {
  /** CALL_START, MESSAGE: the client sends no more messages (half-close). */
  END_STREAM: 0x01,
  /** CALL_START, HEADERS, END: the frame carries a message. */
  HAS_MESSAGE: 0x02,
  /** CALL_START: a u32 timeout in milliseconds follows the header. */
  HAS_TIMEOUT: 0x04,
  /** END: the response headers are in this frame (no HEADERS frame was sent). */
  HAS_HEADERS: 0x08,
  /** HELLO: the frame carries authentication (client: key id and nonce; server: nonce and proof). */
  HAS_AUTH: 0x10,
} as const;

export const ALLOWED_FLAGS: Record<number, number> = {
  [FrameKind.HELLO]: Flag.HAS_AUTH,
  [FrameKind.CALL_START]: Flag.END_STREAM | Flag.HAS_MESSAGE | Flag.HAS_TIMEOUT,
  [FrameKind.HEADERS]: Flag.HAS_MESSAGE,
  [FrameKind.MESSAGE]: Flag.END_STREAM,
  [FrameKind.END]: Flag.HAS_HEADERS | Flag.HAS_MESSAGE,
  [FrameKind.CANCEL]: 0,
  [FrameKind.CREDIT]: 0,
  [FrameKind.PING]: 0,
  [FrameKind.PONG]: 0,
  [FrameKind.GOAWAY]: 0,
  [FrameKind.AUTH]: 0,
};

/** Largest stream id (u32). */
export const MAX_STREAM_ID = 0xffff_ffff;

/** Defaults of the limits every peer announces in HELLO. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;
export const DEFAULT_MAX_CONCURRENT_STREAMS = 1024;
export const DEFAULT_INITIAL_WINDOW_BYTES = 1024 * 1024;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_SEND_TIMEOUT_MS = 10_000;
/** How long a keepalive PING may wait for its PONG (keepalive itself is off by default). */
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 20_000;

/**
 * What every message costs against a stream's flow-control window beyond its own bytes:
 * its frame header. An empty message is not free, so a window of W bytes admits at most
 * W / 8 messages before CREDIT (docs/PROTOCOL.md §4.6).
 */
export const MESSAGE_WINDOW_COST = HEADER_BYTES;

/**
 * Longest CANCEL reason and GOAWAY message, in UTF-8 bytes. Longer ones are cut by the
 * sender; on the wire they are malformed (docs/LIMITS.md). A GOAWAY may come before
 * HELLO, when no limit of the peer is known yet: hence a constant of the protocol.
 */
export const MAX_REASON_BYTES = 4096;

/** Frames a session's send queue may hold per stream (of the larger of both sides' limits), plus a base. */
export const QUEUED_FRAMES_PER_STREAM = 8;
export const QUEUED_FRAMES_BASE = 64;

/**
 * The Connect codes this layer puts on the wire (END status, CANCEL, GOAWAY) or on the
 * errors it resets streams with: numeric, as the frame layer stays below src/connect/.
 * The values are connect-es's `Code`.
 */
export const StatusCode = {
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
