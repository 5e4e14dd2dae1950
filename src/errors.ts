// Coded errors of the lower layers (region, channels). The Connect layer maps these
// codes to ConnectError codes; users see `code` like on Node core errors.

/** Error codes thrown or reported by regions and channels. */
export type ChannelErrorCode =
  | "ERR_REGION_CLOSED"
  | "ERR_REGION_FULL"
  | "ERR_LEASE_RELEASED"
  | "ERR_CHANNEL_CLOSED"
  | "ERR_FRAME_TOO_LARGE"
  | "ERR_PEER_CLOSED_MID_FRAME"
  | "ERR_NOT_PROTOCOL"
  | "ERR_TLS_RECORD"
  | "ERR_ENGINE_CLOSED"
  | "ERR_IO_URING_UNAVAILABLE"
  | "ERR_RDMA_UNAVAILABLE";

/** An Error with a `code` (and, for system failures, `errno`/`syscall`). */
export interface CodedError extends Error {
  /** A {@link ChannelErrorCode}, or a Node-style system error code ("ECONNREFUSED", ...). */
  code: string;
  /** The errno of a failed system call (positive). */
  errno?: number;
  /** The system or library call that failed ("connect", "ibv_reg_mr", ...). */
  syscall?: string;
}

/** Makes an Error carrying `code`. */
export function codedError(code: ChannelErrorCode | string, message: string, extra?: { errno?: number; syscall?: string }): CodedError {
  const error = new Error(message) as CodedError;
  error.code = code;
  if (extra?.errno !== undefined) error.errno = extra.errno;
  if (extra?.syscall !== undefined) error.syscall = extra.syscall;
  return error;
}
