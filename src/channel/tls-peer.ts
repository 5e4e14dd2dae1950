// The TLS part of what a net channel knows about its peer: the certificate the peer
// presented (node:tls's getPeerCertificate(true), issuer chain included), added to
// whatever else the channel knows (address, credentials) without replacing it.
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import type { ChannelPeer } from "./channel-peer.js";

/** `peer` plus the certificate `socket` received, when it is a TLSSocket whose peer presented one. */
export function withCertificate(peer: ChannelPeer | undefined, socket: Socket): ChannelPeer | undefined {
  if (!(socket instanceof TLSSocket)) return peer;
  const certificate = socket.getPeerCertificate(true);
  if (certificate === null || typeof certificate !== "object" || Object.keys(certificate).length === 0) return peer;
  return { ...peer, certificate };
}
