// Frame layouts: encoders (measure, then write into a lease) and the parser (validate
// a received frame completely, returning views into it for message payloads). The
// exact byte layout is specified in docs/PROTOCOL.md §3; this file and that section
// change together.

import { AUTH_MIN_VERSION, AUTH_NONCE_BYTES, AUTH_PROOF_BYTES, MAX_KEY_ID_BYTES } from "./auth.js";
import { ALLOWED_FLAGS, Flag, FrameKind, HEADER_BYTES, MAX_REASON_BYTES, frameKindName } from "./constants.js";
import type { PreparedMetadata } from "./metadata.js";
import type { Payload } from "./payload.js";
import { readMetadata, writeMetadata } from "./metadata.js";
import { ProtocolError } from "./protocol-error.js";
import { WireReader, WireWriter, truncateUtf8, utf8Length } from "./wire.js";

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
  return {
    byteLength: HEADER_BYTES + message.byteLength,
    payload: message,
    write(bytes) {
      const w = new WireWriter(bytes);
      header(w, FrameKind.MESSAGE, endStream ? Flag.END_STREAM : 0, streamId);
      w.raw(message);
    },
  };
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

/** Smallest error detail: u16 type length, u32 value length. */
const MIN_DETAIL_BYTES = 6;

/** The length of a CANCEL reason or GOAWAY message, at most MAX_REASON_BYTES. */
function reasonLength(r: WireReader, field: string): number {
  const n = r.u32(`${field} length`);
  if (n > MAX_REASON_BYTES) r.fail(`${field} of ${n} bytes exceeds the limit of ${MAX_REASON_BYTES}`);
  return n;
}

/**
 * Parses and validates one frame. `fromServer` tells which side sent it (END differs);
 * a metadata block or an END's status above `maxHeaderBytes` (the receiver's announced
 * limit), or a CANCEL reason or GOAWAY message above MAX_REASON_BYTES, is malformed.
 * Message payloads and detail values are views into `bytes`; everything else is copied.
 * Throws ProtocolError on any malformation.
 */
const MESSAGE_FLAGS = ALLOWED_FLAGS[FrameKind.MESSAGE] as number;

export function parseFrame(bytes: Uint8Array, fromServer: boolean, maxHeaderBytes = Infinity): Frame {
  if (bytes.byteLength < HEADER_BYTES) {
    throw new ProtocolError(`malformed frame: ${bytes.byteLength} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  }
  const kind = bytes[0] as number;
  if (kind === FrameKind.MESSAGE) {
    // The data path's frame: a valid header read in place, without a WireReader; anything
    // wrong with it goes the general way below, which names the fault.
    const flags = bytes[1] as number;
    const streamId = ((bytes[4] as number) | ((bytes[5] as number) << 8) | ((bytes[6] as number) << 16)) + (bytes[7] as number) * 0x1000000;
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if ((flags & ~MESSAGE_FLAGS) === 0 && bytes[2] === 0 && bytes[3] === 0 && streamId !== 0 && !(endStream && fromServer)) {
      return { kind, streamId, endStream, message: bytes.subarray(HEADER_BYTES) };
    }
  }
  const name = frameKindName[kind];
  if (name === undefined) throw new ProtocolError(`malformed frame: unknown frame kind ${kind}`);
  const r = new WireReader(bytes, 1, name);
  const flags = r.u8("flags");
  if ((flags & ~(ALLOWED_FLAGS[kind] as number)) !== 0) r.fail(`flags 0x${flags.toString(16)} not allowed`);
  if (r.u16("reserved") !== 0) r.fail("reserved bits set");
  const streamId = r.u32("stream id");
  const connectionLevel =
    kind === FrameKind.HELLO || kind === FrameKind.PING || kind === FrameKind.PONG || kind === FrameKind.GOAWAY || kind === FrameKind.AUTH;
  if (connectionLevel && streamId !== 0) r.fail(`stream id must be 0, got ${streamId}`);
  if (!connectionLevel && streamId === 0) r.fail("stream id 0 is reserved for connection frames");
  switch (kind) {
    case FrameKind.HELLO: {
      const hello: Hello = {
        version: r.u16("version"),
        minVersion: r.u16("min version"),
        maxMessageBytes: r.u32("max message bytes"),
        maxHeaderBytes: r.u32("max header bytes"),
        maxConcurrentStreams: r.u32("max concurrent streams"),
        initialWindowBytes: r.u32("initial window bytes"),
      };
      if ((flags & Flag.HAS_AUTH) !== 0) {
        if (hello.version < AUTH_MIN_VERSION) r.fail(`authentication needs protocol version ${AUTH_MIN_VERSION}, HELLO says ${hello.version}`);
        if (fromServer) {
          hello.authAnswer = { nonce: r.view(AUTH_NONCE_BYTES, "nonce").slice(), proof: r.view(AUTH_PROOF_BYTES, "proof").slice() };
        } else {
          const keyIdLength = r.u16("key id length");
          if (keyIdLength === 0 || keyIdLength > MAX_KEY_ID_BYTES) r.fail(`key id of ${keyIdLength} bytes (1 to ${MAX_KEY_ID_BYTES})`);
          hello.authRequest = { keyId: r.string(keyIdLength, "key id"), nonce: r.view(AUTH_NONCE_BYTES, "nonce").slice() };
        }
      }
      r.end();
      if (hello.minVersion > hello.version) r.fail(`min version ${hello.minVersion} above version ${hello.version}`);
      // max_header_bytes 0 would refuse every call: a request always carries metadata.
      if (hello.maxMessageBytes === 0 || hello.maxHeaderBytes === 0 || hello.maxConcurrentStreams === 0 || hello.initialWindowBytes === 0) {
        r.fail("limits must be positive");
      }
      return { kind, streamId: 0, hello };
    }
    case FrameKind.CALL_START: {
      if (fromServer) r.fail("sent by a server");
      const timeoutMs = (flags & Flag.HAS_TIMEOUT) !== 0 ? r.u32("timeout") : undefined;
      const path = r.string(r.u16("path length"), "path");
      const metadata = readMetadata(r, "request headers", maxHeaderBytes);
      let message: Uint8Array | undefined;
      if ((flags & Flag.HAS_MESSAGE) !== 0) message = r.rest();
      else r.end();
      return { kind, streamId, endStream: (flags & Flag.END_STREAM) !== 0, timeoutMs, path, metadata, message };
    }
    case FrameKind.HEADERS: {
      if (!fromServer) r.fail("sent by a client");
      const metadata = readMetadata(r, "response headers", maxHeaderBytes);
      let message: Uint8Array | undefined;
      if ((flags & Flag.HAS_MESSAGE) !== 0) message = r.rest();
      else r.end();
      return { kind, streamId, metadata, message };
    }
    case FrameKind.MESSAGE: {
      const endStream = (flags & Flag.END_STREAM) !== 0;
      if (endStream && fromServer) r.fail("END_STREAM flag from a server");
      return { kind, streamId, endStream, message: r.rest() };
    }
    case FrameKind.END: {
      if (!fromServer) {
        if (flags !== 0) r.fail("flags on a client END");
        r.end();
        return { kind, streamId, halfClose: true };
      }
      const headers = (flags & Flag.HAS_HEADERS) !== 0 ? readMetadata(r, "response headers", maxHeaderBytes) : undefined;
      const message = (flags & Flag.HAS_MESSAGE) !== 0 ? r.view(r.u32("message length"), "message") : undefined;
      // The status is bounded like a metadata block (max_header_bytes), checked as it is read.
      const start = r.remaining;
      const code = r.u8("status code");
      const statusMessage = r.string(r.within(r.u32("status message length"), start, maxHeaderBytes, "status"), "status message");
      const detailCount = r.u16("detail count");
      r.within(detailCount * MIN_DETAIL_BYTES, start, maxHeaderBytes, "status");
      const details: WireDetail[] = [];
      for (let i = 0; i < detailCount; i++) {
        const type = r.string(r.within(r.u16("detail type length"), start, maxHeaderBytes, "status"), "detail type");
        const value = r.view(r.within(r.u32("detail value length"), start, maxHeaderBytes, "status"), "detail value");
        details.push({ type, value });
      }
      const trailers = readMetadata(r, "trailers", maxHeaderBytes);
      r.end();
      return {
        kind,
        streamId,
        halfClose: false,
        headers,
        message,
        status: { code, message: statusMessage, details },
        trailers,
      };
    }
    case FrameKind.CANCEL: {
      const code = r.u8("code");
      const reason = r.string(reasonLength(r, "reason"), "reason");
      r.end();
      return { kind, streamId, code, reason };
    }
    case FrameKind.CREDIT: {
      const increment = r.u32("increment");
      r.end();
      if (increment === 0) r.fail("zero increment");
      return { kind, streamId, increment };
    }
    case FrameKind.PING:
    case FrameKind.PONG: {
      const lo = r.u32("id");
      const hi = r.u32("id");
      r.end();
      return { kind, streamId: 0, id: hi * 0x1_0000_0000 + lo };
    }
    case FrameKind.GOAWAY: {
      const lastStreamId = r.u32("last stream id");
      const code = r.u8("code");
      const message = r.string(reasonLength(r, "message"), "message");
      r.end();
      return { kind, streamId: 0, lastStreamId, code, message };
    }
    case FrameKind.AUTH: {
      if (fromServer) r.fail("sent by a server");
      const proof = r.view(AUTH_PROOF_BYTES, "proof").slice();
      r.end();
      return { kind, streamId: 0, proof };
    }
    default:
      throw new ProtocolError(`malformed frame: unknown frame kind ${kind}`);
  }
}
