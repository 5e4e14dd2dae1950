// The options of a session (limits and timeouts, each with its default; the keys it
// authenticates with) and its counters. Limits are announced in HELLO (handshake.ts);
// timeouts stay local; keys never travel (auth.ts).

import type { ChannelStats } from "../channel/channel.js";
import type { ClientAuth, ServerKeys } from "./auth.js";
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_INITIAL_WINDOW_BYTES,
  DEFAULT_KEEPALIVE_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_STREAMS,
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_SEND_TIMEOUT_MS,
} from "./constants.js";

/** Limits and timeouts of a session; every field has a safe default. */
export interface SessionOptions {
  /** Largest message accepted (announced in HELLO). Default 4 MiB. */
  maxMessageBytes?: number;
  /** Largest metadata block accepted (announced in HELLO). Default 64 KiB. */
  maxHeaderBytes?: number;
  /** Streams the peer may open at once (server; announced in HELLO). Default 1024. */
  maxConcurrentStreams?: number;
  /** Bytes of messages a peer may send on a stream before credit. Default 1 MiB. */
  initialWindowBytes?: number;
  /** The handshake (HELLO, and AUTH with authentication) must complete within this. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Bound on waiting for region space before a send fails. Default 10 s. */
  sendTimeoutMs?: number;
  /** Server: GOAWAY after this long without streams (0: never). Default 0. */
  idleTimeoutMs?: number;
  /** PING the peer after this long without a frame from it (0: never). Default 0. */
  keepaliveMs?: number;
  /** Close the connection when a keepalive PING gets no PONG within this. Default 20 s. */
  keepaliveTimeoutMs?: number;
  /** Client: the key it proves in the handshake (checked: auth.ts checkClientAuth). */
  clientAuth?: ClientAuth;
  /** Server: the keys clients may prove (checked: auth.ts checkServerAuth). */
  serverAuth?: ServerKeys;
}

/** Options with every default filled in; the keys stay optional. */
export type ResolvedSessionOptions = Required<Omit<SessionOptions, "clientAuth" | "serverAuth">> & Pick<SessionOptions, "clientAuth" | "serverAuth">;

/** Counters of a session. */
export interface SessionStats extends ChannelStats {
  streamsOpened: number;
}

/** Every option, defaults filled in. */
export function resolvedOptions(options: SessionOptions): ResolvedSessionOptions {
  return {
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    maxConcurrentStreams: options.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
    initialWindowBytes: options.initialWindowBytes ?? DEFAULT_INITIAL_WINDOW_BYTES,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    sendTimeoutMs: options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
    idleTimeoutMs: options.idleTimeoutMs ?? 0,
    keepaliveMs: options.keepaliveMs ?? 0,
    keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
    ...(options.clientAuth !== undefined ? { clientAuth: options.clientAuth } : {}),
    ...(options.serverAuth !== undefined ? { serverAuth: options.serverAuth } : {}),
  };
}
