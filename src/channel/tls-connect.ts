// The client side of a TLS handshake on tcp://, shared by the TLSSocket path (net-engine.ts)
// and the kTLS path (ktls-engine.ts): node:tls connect options for a host (SNI for names,
// none for IPs), a handshake bounded in time, and a failed handshake reported with
// node:tls's reason and what is likely wrong when the server does not speak TLS.
import * as net from "node:net";
import * as tls from "node:tls";

import { codedError } from "../errors.js";
import { notTlsCode, tlsReason } from "./tls-failure.js";

/** A TLS handshake not finished within this drops the socket, on either side (node:tls's server default is 120 s). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Connects with TLS to host:port and resolves the TLSSocket once its handshake is done
 * ("secureConnect"); rejects with tlsHandshakeError's error, or after
 * TLS_HANDSHAKE_TIMEOUT_MS. `prepare` sees the socket before any of its events.
 */
export async function connectTls(options: tls.ConnectionOptions, host: string, port: number, prepare?: (socket: tls.TLSSocket) => void): Promise<tls.TLSSocket> {
  const socket = tls.connect(tlsConnectOptions(options, host, port));
  prepare?.(socket);
  // A server that never finishes the handshake must not hold connect() forever.
  const timer = setTimeout(() => socket.destroy(codedError("ERR_TLS_HANDSHAKE_TIMEOUT", `not completed within ${TLS_HANDSHAKE_TIMEOUT_MS} ms`)), TLS_HANDSHAKE_TIMEOUT_MS);
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      clearTimeout(timer);
      socket.off("secureConnect", onConnect);
      reject(tlsHandshakeError(error, socket.bytesRead > 0));
    };
    const onConnect = (): void => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve();
    };
    socket.once("error", onError);
    socket.once("secureConnect", onConnect);
  });
  return socket;
}

/** The SNI name for a host: a name as it is, none for an IP literal (TLS forbids IPs in SNI). */
function serverName(host: string): string | undefined {
  return net.isIP(host.replace(/^\[|\]$/g, "")) === 0 ? host : undefined;
}

/** node:tls connect options for host:port; allowHalfOpen (honoured by tls.connect, absent from its typings) as on plain sockets. */
function tlsConnectOptions(options: tls.ConnectionOptions, host: string, port: number): tls.ConnectionOptions {
  const servername = options.servername ?? serverName(host);
  return Object.assign({ ...options, host, port, ...(servername !== undefined ? { servername } : {}) }, { allowHalfOpen: true });
}

/**
 * A failed TLS handshake as the connecting side reports it: node:tls's reason and code,
 * prefixed, and what is likely wrong when the server does not speak TLS: its first bytes
 * are not a TLS record, or it closed without a TLS answer (a server without tls closes a
 * TLS client at its first bytes: src/frame/constants.ts FIRST_FRAME_MAX_BYTES).
 */
function tlsHandshakeError(error: Error, answered: boolean): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const hint = notTlsCode(code)
    ? "the server does not speak TLS (its first bytes are not a TLS record): drop tls from the transport or give the server tls: "
    : code === "ECONNRESET" && !answered
      ? "the server closed the connection without a TLS answer: it likely does not speak TLS (drop tls from the transport or give the server tls): "
      : "";
  const wrapped = codedError(code ?? "ERR_TLS_HANDSHAKE", `TLS handshake failed: ${hint}${tlsReason(error)}`);
  wrapped.cause = error;
  return wrapped;
}
