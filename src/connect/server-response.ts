// What a server call sends back besides its messages: the OK status, response metadata
// checked against the client's announced max_header_bytes, an END too big for one frame
// sent as HEADERS, MESSAGE and END, a refusal before any handler ran, and the mapping of
// a handler's error to the ConnectError its END carries. ServerCall (server-call.ts)
// decides when each is sent.

import { Code, ConnectError } from "@connectrpc/connect";
import { endOverhead } from "../frame/frames.js";
import type { WireStatus } from "../frame/frames.js";
import { prepareMetadata } from "../frame/metadata.js";
import type { PreparedMetadata } from "../frame/metadata.js";
import type { Payload } from "../frame/payload.js";
import type { Session } from "../frame/session.js";
import type { Stream } from "../frame/stream.js";
import { statusFromError, toConnectError } from "./errors.js";

/** The status of a call that succeeded. */
export const OK: WireStatus = { code: 0, message: "", details: [] };

/** Answers a call with `error` before any handler ran (unknown path, contextValues threw). */
export function refuseCall(stream: Stream, error: ConnectError): void {
  stream
    .sendEnd({ headers: undefined, message: undefined, status: statusFromError(error), trailers: prepareMetadata(undefined) })
    ?.catch(() => undefined);
}

/** Response headers or trailers; throws ResourceExhausted above the client's limit. */
export function responseMetadata(session: Session, h: Headers | undefined, what: string): PreparedMetadata {
  const md = prepareMetadata(h);
  const limit = session.peer?.maxHeaderBytes;
  if (limit !== undefined && md.byteLength > limit) {
    throw new ConnectError(`${what} of ${md.byteLength} bytes exceed the client's maxHeaderBytes ${limit} (announced in its handshake)`, Code.ResourceExhausted);
  }
  return md;
}

/** The size of an OK END carrying headers, the message and trailers. */
export function endBytes(headers: PreparedMetadata | undefined, payload: Payload, trailers: PreparedMetadata): number {
  return endOverhead(OK) + (headers?.byteLength ?? 0) + 4 + payload.byteLength + trailers.byteLength;
}

/**
 * A response too big for one frame: HEADERS, MESSAGE and END each on their own. Never
 * rejects: a failed send goes to `abandon`.
 */
export async function sendEndInParts(
  stream: Stream,
  headers: PreparedMetadata | undefined,
  payload: Payload,
  trailers: PreparedMetadata,
  abandon: (e: unknown) => void,
): Promise<void> {
  try {
    if (headers !== undefined) await stream.sendHeaders(headers, undefined);
    await stream.sendMessage(payload);
    await stream.sendEnd({ headers: undefined, message: undefined, status: OK, trailers });
  } catch (e) {
    abandon(e);
  }
}

/** Failures of this library's own sends, mapped by toConnectError rather than Internal. */
const OWN_ERROR_CODES = new Set(["ERR_REGION_FULL", "ERR_FRAME_TOO_LARGE", "ERR_CHANNEL_CLOSED", "ERR_STREAM_CLOSED"]);

/** Errors of the handler become Internal unless they are ConnectErrors (as connect-es). */
export function asConnectError(e: unknown): ConnectError {
  if (e instanceof ConnectError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string" && OWN_ERROR_CODES.has(code)) return toConnectError(e);
  return new ConnectError("internal error", Code.Internal, undefined, undefined, e);
}
