// The parser of received frames: validates one frame completely (PROTOCOL.md §3) and
// returns views into it for message payloads and detail values, everything else copied.
// The layouts it reads are written by the encoders of frames.ts; the two change together.

import { AUTH_MIN_VERSION, AUTH_NONCE_BYTES, AUTH_PROOF_BYTES, MAX_KEY_ID_BYTES } from "./auth.js";
import { ALLOWED_FLAGS, Flag, FrameKind, HEADER_BYTES, MAX_REASON_BYTES, frameKindName } from "./constants.js";
import type { Frame, Hello, WireDetail } from "./frames.js";
import { DecodedStrings } from "./decoded-strings.js";
import { readMetadata } from "./metadata.js";
import { ProtocolError } from "./protocol-error.js";
import { WireReader } from "./wire.js";

/** Smallest error detail: u16 type length, u32 value length. */
const MIN_DETAIL_BYTES = 6;

/** The length of a CANCEL reason or GOAWAY message, at most MAX_REASON_BYTES. */
function reasonLength(r: WireReader, field: string): number {
  const n = r.u32(`${field} length`);
  if (n > MAX_REASON_BYTES) r.fail(`${field} of ${n} bytes exceeds the limit of ${MAX_REASON_BYTES}`);
  return n;
}

const MESSAGE_FLAGS = ALLOWED_FLAGS[FrameKind.MESSAGE] as number;

/** Method paths already decoded (shared by every session of the process; bounded). */
const paths = new DecodedStrings(32, 256);

type MessageFrame = Extract<Frame, { kind: typeof FrameKind.MESSAGE }>;

/**
 * The data path's frame: a MESSAGE whose header is valid, read in place from the
 * `length` bytes at `offset` of `memory`, without a WireReader; its message is the one
 * view made. Undefined for any other frame and for a MESSAGE with anything wrong in its
 * header: parseFrame() then takes the general way, which names the fault.
 */
export function parseMessageAt(memory: Uint8Array, offset: number, length: number, fromServer: boolean): MessageFrame | undefined {
  if (length < HEADER_BYTES || memory[offset] !== FrameKind.MESSAGE) return undefined;
  const flags = memory[offset + 1] as number;
  const streamId =
    ((memory[offset + 4] as number) | ((memory[offset + 5] as number) << 8) | ((memory[offset + 6] as number) << 16)) +
    (memory[offset + 7] as number) * 0x1000000;
  const endStream = (flags & Flag.END_STREAM) !== 0;
  if ((flags & ~MESSAGE_FLAGS) !== 0 || memory[offset + 2] !== 0 || memory[offset + 3] !== 0 || streamId === 0 || (endStream && fromServer)) {
    return undefined;
  }
  // A view made by the constructor (subarray() costs a species lookup), and a plain
  // Uint8Array even when `memory` is a Buffer.
  const message = new Uint8Array(memory.buffer, memory.byteOffset + offset + HEADER_BYTES, length - HEADER_BYTES);
  return { kind: FrameKind.MESSAGE, streamId, endStream, message };
}

/**
 * Parses and validates one frame. `fromServer` tells which side sent it (END differs);
 * a metadata block or an END's status above `maxHeaderBytes` (the receiver's announced
 * limit), or a CANCEL reason or GOAWAY message above MAX_REASON_BYTES, is malformed.
 * Message payloads and detail values are views into `bytes`; everything else is copied.
 * Throws ProtocolError on any malformation.
 */
export function parseFrame(bytes: Uint8Array, fromServer: boolean, maxHeaderBytes = Infinity): Frame {
  if (bytes.byteLength < HEADER_BYTES) {
    throw new ProtocolError(`malformed frame: ${bytes.byteLength} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  }
  const kind = bytes[0] as number;
  if (kind === FrameKind.MESSAGE) {
    const message = parseMessageAt(bytes, 0, bytes.byteLength, fromServer);
    if (message !== undefined) return message;
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
      const path = r.cachedString(r.u16("path length"), "path", paths);
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
