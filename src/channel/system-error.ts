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
    case NativeCloseReason.TlsRecord:
      return tlsRecordError(negErrno);
    case NativeCloseReason.PeerClosedMidFrame:
      return codedError("ERR_PEER_CLOSED_MID_FRAME", "peer closed the connection in the middle of a frame");
  }
  if (negErrno === 0) return undefined;
  return systemError(negErrno, "recv");
}

/** An Error for -errno from a system call. */
export function systemError(negErrno: number, syscall: string): CodedError {
  const code = errnoName(negErrno);
  return codedError(code, `${syscall} failed: ${code}`, { errno: negErrno, syscall });
}

/** Why a kTLS connection failed at a received record (NativeCloseReason.TlsRecord), by the kernel's errno. */
function tlsRecordError(negErrno: number): CodedError {
  const code = errnoName(negErrno);
  const why =
    code === "EIO"
      ? "it is not application data (a TLS alert, or a post-handshake message such as KeyUpdate, which this path does not support)"
      : code === "EBADMSG"
        ? "it failed authentication (not a record sealed with this connection's keys, or out of sequence)"
        : "its header is malformed";
  return codedError("ERR_TLS_RECORD", `kTLS: the kernel could not deliver a TLS record from the peer (${code}): ${why}; connection closed`, { errno: negErrno, syscall: "recv" });
}

/** The errno's name (ECONNRESET), or E<number> for one this platform does not name. */
function errnoName(negErrno: number): string {
  return errnoNames.get(-negErrno) ?? `E${-negErrno}`;
}
