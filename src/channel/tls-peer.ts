// The TLS part of what a net channel knows about its peer: the certificate the peer
// presented (node:tls's getPeerCertificate(true), issuer chain included), and on a server
// that requires client certificates why one was refused, added to whatever else the
// channel knows (address, credentials) without replacing it.
import type { Socket } from "node:net";
import { TLSSocket, type DetailedPeerCertificate } from "node:tls";
import type { ChannelPeer } from "./channel-peer.js";

/** `peer` plus what `socket` (a TLSSocket) tells: the certificate its peer presented, and `certificateError` if given. */
export function withCertificate(peer: ChannelPeer, socket: Socket, certificateError?: string): ChannelPeer {
  if (!(socket instanceof TLSSocket)) return peer;
  const certificate = presented(socket);
  if (certificate === undefined && certificateError === undefined) return peer;
  return Object.freeze({ ...peer, ...(certificate !== undefined ? { certificate } : {}), ...(certificateError !== undefined ? { certificateError } : {}) });
}

function presented(socket: TLSSocket): DetailedPeerCertificate | undefined {
  const certificate = socket.getPeerCertificate(true);
  return certificate !== null && typeof certificate === "object" && Object.keys(certificate).length > 0 ? certificate : undefined;
}

/**
 * Why a server that requires client certificates refuses this accepted socket, or
 * undefined when its client presented one the server's `ca` verified. node:tls's own
 * refusal closes the connection without a word after the TLS 1.3 handshake (the client
 * cannot tell why), so the engine accepts and the server answers GOAWAY with this reason.
 */
export function clientCertificateRefusal(socket: TLSSocket): string | undefined {
  if (socket.authorized) return undefined;
  if (presented(socket) === undefined) return "the server requires a TLS client certificate and none was presented";
  return `the server refused the TLS client certificate: ${String(socket.authorizationError)}`;
}
