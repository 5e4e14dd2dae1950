// The HELLO handshake as pure functions (docs/PROTOCOL.md §2): the HELLO a side
// announces, the server's choice of version (or its refusal), the client's check of
// that choice, and the send-queue bound both sides derive from the limits exchanged.
// The session sends and times; nothing here has state.

import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, QUEUED_FRAMES_BASE, QUEUED_FRAMES_PER_STREAM } from "./constants.js";
import type { Hello } from "./frames.js";
import { ProtocolError } from "./protocol-error.js";

/** The limits a side announces in its HELLO. */
export type HelloLimits = Pick<Hello, "maxMessageBytes" | "maxHeaderBytes" | "maxConcurrentStreams" | "initialWindowBytes">;

/** The HELLO announcing `limits` for the versions minVersion..version. */
export function localHello(limits: HelloLimits, version: number, minVersion: number): Hello {
  return {
    version,
    minVersion,
    maxMessageBytes: limits.maxMessageBytes,
    maxHeaderBytes: limits.maxHeaderBytes,
    maxConcurrentStreams: limits.maxConcurrentStreams,
    initialWindowBytes: limits.initialWindowBytes,
  };
}

/** The HELLO a client opens with: every version it speaks. */
export function clientHello(limits: HelloLimits): Hello {
  return localHello(limits, PROTOCOL_VERSION, MIN_PROTOCOL_VERSION);
}

/** What a server does with a client's HELLO: answer with one version, or refuse. */
export type ServerAnswer = { accept: true; version: number; hello: Hello } | { accept: false; message: string };

/** Server: the highest version both speak, answered in a HELLO naming only it; else a refusal. */
export function answerHello(limits: HelloLimits, peer: Hello): ServerAnswer {
  const version = Math.min(PROTOCOL_VERSION, peer.version);
  if (version < Math.max(MIN_PROTOCOL_VERSION, peer.minVersion)) {
    return {
      accept: false,
      message: `unsupported protocol version: peer speaks ${peer.minVersion}..${peer.version}, this server ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`,
    };
  }
  return { accept: true, version, hello: localHello(limits, version, version) };
}

/** Client: the server's HELLO must name a version this side speaks (a ProtocolError otherwise). */
export function checkServerHello(hello: Hello): void {
  if (hello.version > PROTOCOL_VERSION || hello.version < MIN_PROTOCOL_VERSION) {
    throw new ProtocolError(`server chose unsupported protocol version ${hello.version}`);
  }
}

/**
 * How many frames may wait for region space at once: a few per stream (a message, END or
 * CANCEL, CREDITs) plus connection frames, for the larger of both sides' stream limits.
 * More means the peer makes this side answer without reading the answers (docs/LIMITS.md,
 * "send queue").
 */
export function maxQueuedFrames(streams: number): number {
  return QUEUED_FRAMES_PER_STREAM * streams + QUEUED_FRAMES_BASE;
}
