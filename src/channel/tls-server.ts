// The server side of TLS on tcp://, shared by the TLSSocket path (net-engine.ts) and the
// kTLS path (ktls-engine.ts): the server's node:tls options (client certificates are
// verified by node:tls, refused by us so the client learns why), and a node:tls server
// whose failed handshakes cost their socket only and are reported (ListenOptions
// onTlsFailure), a plaintext client being told in its own framing why before the close.
import type * as net from "node:net";
import * as tls from "node:tls";

import type { ChannelAddress } from "./address.js";
import type { ListenOptions } from "./channel.js";
import { netPeer } from "./net-peer.js";
import { TLS_HANDSHAKE_TIMEOUT_MS } from "./tls-connect.js";
import { answerUnencrypted, handshakeFailure, tcpSocketOf } from "./tls-failure.js";
import { serverTlsOptions } from "./tls-options.js";
import { clientCertificateRefusal } from "./tls-peer.js";

/** A server's checked TLS options, as node:tls takes them, and whether it requires client certificates. */
export interface ServerTls {
  readonly options: tls.TlsOptions;
  /** requestCert, rejectUnauthorized not false: a client without a certificate its `ca` signed is refused. */
  readonly verifyClients: boolean;
}

/** Throws TypeError unless `options` is a usable server `tls` (tls-options.ts). */
export function serverTls(where: string, options: unknown): ServerTls {
  const server = serverTlsOptions(where, options);
  const verifyClients = server.requestCert === true && server.rejectUnauthorized !== false;
  return { options: verifyClients ? { ...server, rejectUnauthorized: false } : server, verifyClients };
}

/**
 * A node:tls server for `address`; `onSecure` gets each socket whose handshake finished,
 * with why its client certificate is refused (already reported through onTlsFailure), if it is.
 */
export function createTlsServer(
  server: ServerTls,
  address: Extract<ChannelAddress, { scheme: "tcp" }>,
  listenOptions: ListenOptions | undefined,
  onSecure: (socket: tls.TLSSocket, refusal: string | undefined) => void,
): tls.Server {
  // Not half-open during the handshake: node:tls then misses a client that closes
  // mid-handshake until the timeout; accepted sockets become half-open in onSecure.
  const listener = tls.createServer({ ...server.options, allowHalfOpen: false, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, (socket) => {
    const refusal = server.verifyClients ? clientCertificateRefusal(socket) : undefined;
    if (refusal !== undefined) listenOptions?.onTlsFailure?.({ reason: "tls-client-certificate", message: refusal, peer: netPeer(socket, address) });
    onSecure(socket, refusal);
  });
  // The peer's address is read now: a client that closed is past asking by tlsClientError.
  listener.on("connection", (raw: net.Socket) => void raw.remoteAddress);
  listener.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
    const failure = handshakeFailure(error);
    if (failure.reason === "tls-plaintext" && listenOptions?.plaintextAnswer !== undefined) answerUnencrypted(socket, listenOptions.plaintextAnswer);
    listenOptions?.onTlsFailure?.({ ...failure, peer: netPeer(tcpSocketOf(socket), address) });
    socket.destroy();
  });
  return listener;
}
