// Turns the native engine's close reports (-errno + reason) into coded Errors shaped
// like Node core's system errors ({ code: "ECONNRESET", errno: -104, syscall }).
import { constants } from "node:os";

import { NativeCloseReason } from "../binding.js";
import { codedError, type CodedError } from "../errors.js";
import { notProtocolError } from "./frame-headers.js";

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value as number, name]),
);

/** The Error for a close reported by an engine; undefined for a clean end. */
export function closeError(negErrno: number, reason: number, maxFrameBytes: number): CodedError | undefined {
  switch (reason) {
    case NativeCloseReason.FrameTooLarge:
      return codedError("ERR_FRAME_TOO_LARGE", `peer sent a frame larger than maxFrameBytes (${maxFrameBytes}); connection closed`);
    case NativeCloseReason.NotProtocol:
      return notProtocolError();
    case NativeCloseReason.RegionFull:
      return codedError("ERR_REGION_FULL", "no region memory left to reassemble an incoming frame; connection closed");
    case NativeCloseReason.PeerClosedMidFrame:
      return codedError("ERR_PEER_CLOSED_MID_FRAME", "peer closed the connection in the middle of a frame");
  }
  if (negErrno === 0) return undefined;
  return systemError(negErrno, "recv");
}

/** An Error for -errno from a system call. */
export function systemError(negErrno: number, syscall: string): CodedError {
  const code = errnoNames.get(-negErrno) ?? `E${-negErrno}`;
  return codedError(code, `${syscall} failed: ${code}`, { errno: negErrno, syscall });
}
