// Frame layouts: the shapes of the protocol's frames and their encoders (measure, then
// write into a lease). The parser of received frames is parse-frame.ts. The exact byte
// layout is specified in docs/PROTOCOL.md §3; these two files and that section change
// together.

import { AUTH_NONCE_BYTES, AUTH_PROOF_BYTES } from "./auth.js";
import { Flag, FrameKind, HEADER_BYTES, MAX_REASON_BYTES } from "./constants.js";
import type { PreparedMetadata } from "./metadata.js";
import type { Payload } from "./payload.js";
import { writeMetadata } from "./metadata.js";
import { WireWriter, truncateUtf8, utf8Length, writePayload } from "./wire.js";

/** Limits and version a peer announces in HELLO. */
export interface Hello {
  version: number;
  minVersion: number;
  maxMessageBytes: number;
  maxHeaderBytes: number;
  maxConcurrentStreams: number;
  initialWindowBytes: number;
  /** Client HELLO with HAS_AUTH: the key it will prove and its nonce. */
  authRequest?: AuthRequest;
  /** Server HELLO with HAS_AUTH: its nonce and its proof of the key. */
  authAnswer?: AuthAnswer;
}

/** What a client's HELLO asks authentication with (docs/PROTOCOL.md §3). */
export interface AuthRequest {
  keyId: string;
  nonce: Uint8Array;
}

/** What a server's HELLO answers an AuthRequest with. */
export interface AuthAnswer {
  nonce: Uint8Array;
  proof: Uint8Array;
}

/** An error detail on the wire: a protobuf type name and its binary encoding. */
export interface WireDetail {
  type: string;
  value: Uint8Array;
}

/** The status of an END frame. Code 0 is success; others are Connect codes. */
export interface WireStatus {
  code: number;
  message: string;
  details: WireDetail[];
}

export type Frame =
  | { kind: typeof FrameKind.HELLO; streamId: 0; hello: Hello }
  | {
      kind: typeof FrameKind.CALL_START;
      streamId: number;
      endStream: boolean;
      timeoutMs: number | undefined;
      path: string;
      metadata: Headers;
      message: Uint8Array | undefined;
    }
  | { kind: typeof FrameKind.HEADERS; streamId: number; metadata: Headers; message: Uint8Array | undefined }
  | { kind: typeof FrameKind.MESSAGE; streamId: number; endStream: boolean; message: Uint8Array }
  | { kind: typeof FrameKind.END; streamId: number; halfClose: true }
  | {
      kind: typeof FrameKind.END;
      streamId: number;
      halfClose: false;
      headers: Headers | undefined;
      message: Uint8Array | undefined;
      status: WireStatus;
      trailers: Headers;
    }
  | { kind: typeof FrameKind.CANCEL; streamId: number; code: number; reason: string }
  | { kind: typeof FrameKind.CREDIT; streamId: number; increment: number }
  | { kind: typeof FrameKind.PING | typeof FrameKind.PONG; streamId: 0; id: number }
  | { kind: typeof FrameKind.GOAWAY; streamId: 0; lastStreamId: number; code: number; message: string }
  | { kind: typeof FrameKind.AUTH; streamId: 0; proof: Uint8Array };

/** A frame ready to be written: its exact size and a writer. */
export interface OutFrame {
  readonly byteLength: number;
  write(bytes: Uint8Array): void;
  /** Checked when a queued frame reaches the channel: true drops it (its stream never started). */
  skip?: () => boolean;
  /** The message the frame carries (a queued frame detaches it: PayloadWriter.detach). */
  readonly payload?: Payload | undefined;
}

function header(w: WireWriter, kind: number, flags: number, streamId: number): void {
  w.u8(kind);
  w.u8(flags);
  w.u16(0);
  w.u32(streamId);
}

export function encodeHello(h: Hello): OutFrame {
  const { authRequest, authAnswer } = h;
  const keyIdLength = authRequest !== undefined ? utf8Length(authRequest.keyId) : 0;
  const authBytes =
    authRequest !== undefined ? 2 + keyIdLength + AUTH_NONCE_BYTES : authAnswer !== undefined ? AUTH_NONCE_BYTES + AUTH_PROOF_BYTES : 0;
  return {
    byteLength: HEADER_BYTES + 20 + authBytes,
    write(bytes) {
      const w = new WireWriter(bytes);
      header(w, FrameKind.HELLO, authBytes > 0 ? Flag.HAS_AUTH : 0, 0);
      w.u16(h.version);
      w.u16(h.minVersion);
      w.u32(h.maxMessageBytes);
      w.u32(h.maxHeaderBytes);
      w.u32(h.maxConcurrentStreams);
      w.u32(h.initialWindowBytes);
      if (authRequest !== undefined) {
        w.u16(keyIdLength);
        w.string(authRequest.keyId, keyIdLength);
        w.raw(authRequest.nonce);
      } else if (authAnswer !== undefined) {
        w.raw(authAnswer.nonce);
        w.raw(authAnswer.proof);
      }
    },
  };
}

/** AUTH (client → server): the client's proof of its key. */
export function encodeAuth(proof: Uint8Array): OutFrame {
  return {
    byteLength: HEADER_BYTES + AUTH_PROOF_BYTES,
    write(bytes) {
      const w = new WireWriter(bytes);
      header(w, FrameKind.AUTH, 0, 0);
      w.raw(proof);
    },
  };
}

/** Size of a CALL_START frame: header, optional u32 timeout, u16 path length, path, metadata, message. */
export function callStartBytes(
  pathLength: number,
  metadata: PreparedMetadata,
  timeoutMs: number | undefined,
  message: Payload | undefined,
): number {
  return HEADER_BYTES + (timeoutMs !== undefined ? 4 : 0) + 2 + pathLength + metadata.byteLength + (message?.byteLength ?? 0);
}

export function encodeCallStart(
  streamId: number,
  path: string,
  metadata: PreparedMetadata,
  timeoutMs: number | undefined,
  message: Payload | undefined,
  endStream: boolean,
): OutFrame {
  const pathLength = utf8Length(path);
  let flags = endStream ? Flag.END_STREAM : 0;
  if (message !== undefined) flags |= Flag.HAS_MESSAGE;
  if (timeoutMs !== undefined) flags |= Flag.HAS_TIMEOUT;
  const byteLength = callStartBytes(pathLength, metadata, timeoutMs, message);
  return {
    byteLength,
    payload: message,
    write(bytes) {
      const w = new WireWriter(bytes);
      header(w, FrameKind.CALL_START, flags, streamId);
      if (timeoutMs !== undefined) w.u32(timeoutMs);
      w.u16(pathLength);
      w.string(path, pathLength);
      writeMetadata(w, metadata);
      if (message !== undefined) w.raw(message);
    },
  };
}

export function encodeHeaders(streamId: number, metadata: PreparedMetadata, message: Payload | undefined): OutFrame {
  return {
    byteLength: HEADER_BYTES + metadata.byteLength + (message?.byteLength ?? 0),
    payload: message,
    write(bytes) {
      const w = new WireWriter(bytes);
      header(w, FrameKind.HEADERS, message !== undefined ? Flag.HAS_MESSAGE : 0, streamId);
      writeMetadata(w, metadata);
      if (message !== undefined) w.raw(message);
    },
  };
}

export function encodeMessage(streamId: number, message: Payload, endStream: boolean): OutFrame {
  return new MessageFrame(streamId, message, endStream);
}

/**
 * A MESSAGE, the data path's frame: one object per message (no closure), its header
 * written byte by byte and its payload by writePayload (no WireWriter).
 */
class MessageFrame implements OutFrame {
  readonly byteLength: number;
  skip: (() => boolean) | undefined = undefined;
  readonly #streamId: number;
  readonly #endStream: boolean;

  constructor(
    streamId: number,
    readonly payload: Payload,
    endStream: boolean,
  ) {
    this.byteLength = HEADER_BYTES + payload.byteLength;
    this.#streamId = streamId;
    this.#endStream = endStream;
  }

  write(bytes: Uint8Array): void {
    if (bytes.byteLength < HEADER_BYTES) throw new RangeError(`frame writer overrun: ${HEADER_BYTES} bytes at 0 of ${bytes.byteLength}`);
    const id = this.#streamId;
    bytes[0] = FrameKind.MESSAGE;
    bytes[1] = this.#endStream ? Flag.END_STREAM : 0;
    bytes[2] = 0;
    bytes[3] = 0;
    bytes[4] = id;
    bytes[5] = id >>> 8;
    bytes[6] = id >>> 16;
    bytes[7] = id >>> 24;
    writePayload(bytes, HEADER_BYTES, this.payload);
  }
}

/** END from the client: no more messages (half-close). */
export function encodeHalfClose(streamId: number): OutFrame {
  return {
    byteLength: HEADER_BYTES,
    write(bytes) {
      header(new WireWriter(bytes), FrameKind.END, 0, streamId);
    },
  };
}

/** What a server END carries. */
export interface EndInit {
  headers: PreparedMetadata | undefined;
  message: Payload | undefined;
  status: WireStatus;
  trailers: PreparedMetadata;
}

/** Encoded size of a status: code, message, details. */
function statusBytes(status: WireStatus): number {
  let n = 1 + 4 + utf8Length(status.message) + 2;
  for (const d of status.details) n += 2 + utf8Length(d.type) + 4 + d.value.byteLength;
  return n;
}

/** Size of a server END without its message and metadata blocks. */
export function endOverhead(status: WireStatus): number {
  return HEADER_BYTES + statusBytes(status);
}

/**
 * `status` within a receiver's max_header_bytes (the bound of a status on the wire,
 * docs/LIMITS.md): as it is if it fits, else its details are dropped and its message cut.
 */
export function fitStatus(status: WireStatus, limit: number): WireStatus {
  if (statusBytes(status) <= limit) return status;
  return { code: status.code, message: truncateUtf8(status.message, limit - statusBytes(NO_STATUS)), details: [] };
}

const NO_STATUS: WireStatus = { code: 0, message: "", details: [] };

const NO_LENGTHS: readonly number[] = [];

export function encodeEnd(streamId: number, init: EndInit): OutFrame {
  const { headers, message, status, trailers } = init;
  let flags = 0;
  if (headers !== undefined) flags |= Flag.HAS_HEADERS;
  if (message !== undefined) flags |= Flag.HAS_MESSAGE;
  const messageLength = utf8Length(status.message);
  const typeLengths = status.details.length === 0 ? NO_LENGTHS : status.details.map((d) => utf8Length(d.type));
  const byteLength =
    endOverhead(status) +
    (headers?.byteLength ?? 0) +
    (message !== undefined ? 4 + message.byteLength : 0) +
    trailers.byteLength;
  if (status.details.length > 0xffff) throw new RangeError("too many error details");
  return {
    byteLength,
    payload: message,
    write(bytes) {
      const w = new WireWriter(bytes);
      header(w, FrameKind.END, flags, streamId);
      if (headers !== undefined) writeMetadata(w, headers);
      if (message !== undefined) {
        w.u32(message.byteLength);
        w.raw(message);
      }
      w.u8(status.code);
      w.u32(messageLength);
      w.string(status.message, messageLength);
      w.u16(status.details.length);
      for (let i = 0; i < status.details.length; i++) {
        const d = status.details[i] as WireDetail;
        const tl = typeLengths[i] as number;
        w.u16(tl);
        w.string(d.type, tl);
        w.u32(d.value.byteLength);
        w.raw(d.value);
      }
      writeMetadata(w, trailers);
    },
  };
}

/** CANCEL; a reason longer than MAX_REASON_BYTES is cut. */
export function encodeCancel(streamId: number, code: number, longReason: string): OutFrame {
  const reason = truncateUtf8(longReason, MAX_REASON_BYTES);
  const reasonLength = utf8Length(reason);
  return {
    byteLength: HEADER_BYTES + 1 + 4 + reasonLength,
    write(bytes) {
      const w = new WireWriter(bytes);
      header(w, FrameKind.CANCEL, 0, streamId);
      w.u8(code);
      w.u32(reasonLength);
      w.string(reason, reasonLength);
    },
  };
}

export function encodeCredit(streamId: number, increment: number): OutFrame {
  return {
    byteLength: HEADER_BYTES + 4,
    write(bytes) {
      const w = new WireWriter(bytes);
      header(w, FrameKind.CREDIT, 0, streamId);
      w.u32(increment);
    },
  };
}

export function encodePing(kind: typeof FrameKind.PING | typeof FrameKind.PONG, id: number): OutFrame {
  return {
    byteLength: HEADER_BYTES + 8,
    write(bytes) {
      const w = new WireWriter(bytes);
      header(w, kind, 0, 0);
      w.u32(id % 0x1_0000_0000);
      w.u32(Math.floor(id / 0x1_0000_0000));
    },
  };
}

/** GOAWAY; a message longer than MAX_REASON_BYTES is cut. */
export function encodeGoAway(lastStreamId: number, code: number, longMessage: string): OutFrame {
  const message = truncateUtf8(longMessage, MAX_REASON_BYTES);
  const messageLength = utf8Length(message);
  return {
    byteLength: HEADER_BYTES + 4 + 1 + 4 + messageLength,
    write(bytes) {
      const w = new WireWriter(bytes);
      header(w, FrameKind.GOAWAY, 0, 0);
      w.u32(lastStreamId);
      w.u8(code);
      w.u32(messageLength);
      w.string(message, messageLength);
    },
  };
}
