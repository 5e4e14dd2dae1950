// What a TLS listener reports about a connection that failed TLS (ListenOptions.onTlsFailure):
// why, in node:tls's words, and who it was; the node:tls error codes that mean the client
// does not speak TLS at all; and the unencrypted answer such a client gets before the
// close (the server's GOAWAY, so a plaintext client of ours reads why instead of a bare close).
import { writeSync } from "node:fs";
import { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { ChannelPeer } from "./channel-peer.js";

/**
 * Why a connection to a TLS listener failed TLS:
 * - "tls-plaintext": the client's first bytes are not a TLS record (a plaintext client);
 * - "tls-handshake": the handshake failed otherwise (the client refused the server's
 *   certificate and closed — during the handshake, or right after it before any frame —,
 *   sent an alert, garbage records, no common version, ...);
 * - "tls-timeout": the handshake did not complete within the listener's TLS handshake timeout;
 * - "tls-client-certificate": the server requires a client certificate and none was
 *   presented, or the one presented is not signed by its `ca`.
 */
export type TlsFailureReason = "tls-plaintext" | "tls-handshake" | "tls-timeout" | "tls-client-certificate";

/** One connection that failed TLS, as a listener reports it. */
export interface TlsFailure {
  readonly reason: TlsFailureReason;
  /** node:tls's reason with its code (or the certificate refusal the client is told). */
  readonly message: string;
  /** Who connected (address; no certificate was accepted). */
  readonly peer: ChannelPeer;
}

/** node:tls (OpenSSL) codes of a handshake whose peer's first bytes are not a TLS record. */
const NOT_TLS_CODES: ReadonlySet<string> = new Set(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_HTTP_REQUEST", "ERR_SSL_HTTPS_PROXY_REQUEST", "ERR_SSL_PACKET_LENGTH_TOO_LONG"]);

/** True when `code` (a node:tls error's) means the peer does not speak TLS. */
export function notTlsCode(code: unknown): boolean {
  return typeof code === "string" && NOT_TLS_CODES.has(code);
}

/** The reason and message of a failed server-side TLS handshake (node:tls's tlsClientError). */
export function handshakeFailure(error: Error): Pick<TlsFailure, "reason" | "message"> {
  const code = (error as NodeJS.ErrnoException).code;
  const reason = notTlsCode(code) ? "tls-plaintext" : code === "ERR_TLS_HANDSHAKE_TIMEOUT" ? "tls-timeout" : "tls-handshake";
  return { reason, message: tlsReason(error) };
}

/** node:tls's reason in one line (OpenSSL's may span several), with its code. */
export function tlsReason(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return `${error.message.split("\n")[0]?.trim() ?? ""}${code !== undefined ? ` (${code})` : ""}`;
}

/**
 * The TCP socket under a server-side TLSSocket (node:tls keeps it as `_parent`), whose
 * address the listener read at connection: the TLSSocket of a client that already closed
 * no longer knows it. The TLSSocket itself where node:tls does not expose it.
 */
export function tcpSocketOf(socket: TLSSocket): Socket {
  const parent = (socket as unknown as { _parent?: unknown })._parent;
  return parent instanceof Socket ? parent : socket;
}

/** The TCP handle under a TLSSocket, client or server side (node:tls's wrapped handle keeps it as `_parent`). */
export function tcpHandleOf(socket: TLSSocket): { fd?: unknown; writeQueueSize?: number } | undefined {
  return (socket as unknown as { _handle?: { _parent?: { fd?: unknown; writeQueueSize?: number } } })._handle?._parent;
}

/**
 * Writes `bytes` unencrypted to the TCP socket under a failed server-side TLSSocket, once,
 * best effort (a full send buffer drops them: the client then sees a bare close).
 */
export function answerUnencrypted(socket: TLSSocket, bytes: Uint8Array): void {
  const fd = tcpHandleOf(socket)?.fd;
  if (typeof fd !== "number" || fd < 0) return;
  try {
    writeSync(fd, bytes);
  } catch {
    // EAGAIN, EPIPE: the client gets the close alone.
  }
}
