// Error mapping between the wire and ConnectError: statuses in END frames (code,
// message, details), and failures of lower layers (connection lost, protocol errors,
// region full, frame too large) to their Connect codes (docs/LIMITS.md lists each limit and its code).

import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { WireStatus } from "../frame/frames.js";
import { StreamResetError } from "../frame/protocol-error.js";

const MAX_CODE = Code.Unauthenticated;

/** The wire status of an error (details encoded as type name + binary). */
export function statusFromError(error: ConnectError): WireStatus {
  return {
    code: error.code,
    message: error.rawMessage,
    details: error.details.map((d) =>
      "desc" in d ? { type: d.desc.typeName, value: toBinary(d.desc, create(d.desc, d.value)) } : { type: d.type, value: d.value },
    ),
  };
}

/** The ConnectError of a received error status; detail bytes are copied out of the frame. */
export function errorFromStatus(status: WireStatus, metadata: Headers): ConnectError {
  const code = status.code >= 1 && status.code <= MAX_CODE ? (status.code as Code) : Code.Unknown;
  const error = new ConnectError(status.message, code, metadata);
  error.isWireError = true;
  for (const d of status.details) error.details.push({ type: d.type, value: new Uint8Array(d.value) });
  return error;
}

/** A ConnectError for any failure below the Connect layer. */
export function toConnectError(e: unknown, fallback: Code = Code.Unavailable): ConnectError {
  if (e instanceof ConnectError) return e;
  if (e instanceof StreamResetError) {
    const code = e.status >= 1 && e.status <= MAX_CODE ? (e.status as Code) : Code.Unavailable;
    return new ConnectError(e.message, code, undefined, undefined, e);
  }
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  switch (code) {
    case "ERR_REGION_FULL":
      return new ConnectError(`send buffer full: ${message}`, Code.ResourceExhausted, undefined, undefined, e);
    case "ERR_FRAME_TOO_LARGE":
      return new ConnectError(message, Code.ResourceExhausted, undefined, undefined, e);
    case "ERR_CHANNEL_CLOSED":
    case "ERR_TLS_RECORD":
    case "ECONNREFUSED":
    case "ECONNRESET":
    case "ENOENT":
    case "EPIPE":
      return new ConnectError(message, Code.Unavailable, undefined, undefined, e);
    default:
      return ConnectError.from(e, fallback);
  }
}

/** Headers followed by trailers, as connect-es builds error metadata. */
export function mergeMetadata(header: Headers | undefined, trailer: Headers | undefined): Headers {
  const m = new Headers(header);
  trailer?.forEach((value, key) => m.append(key, value));
  return m;
}
