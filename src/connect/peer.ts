// The handler's view of the peer of a call: one object per connection, put into every
// call's context values under `peerKey`, so handlers and interceptors read it the
// Connect way: `ctx.values.get(peerKey)`.

import { createContextKey } from "@connectrpc/connect";
import type { ContextKey } from "@connectrpc/connect";
import type { EngineName } from "../channel/channel.js";
import type { ChannelPeer, PeerCredentials } from "../channel/channel-peer.js";

/** Who is at the other end of a call's connection. Fields the connection cannot tell are absent. */
export interface Peer {
  /** The engine carrying the connection. */
  readonly engine: EngineName;
  /** The peer's address as a URL (tcp://10.0.0.2:51234, unix:///path, …), when the engine knows it. */
  readonly address?: string;
  /** unix:// only: the peer process's pid, uid and gid (SO_PEERCRED). */
  readonly credentials?: PeerCredentials;
  /** TLS only: the certificate the peer presented. */
  readonly certificate?: ChannelPeer["certificate"];
  /** With `auth`: the key id the peer proved it holds in the handshake. */
  readonly keyId?: string;
}

/** The context key under which a server call's values hold its {@link Peer}; undefined on the client side. */
export const peerKey: ContextKey<Peer | undefined> = createContextKey<Peer | undefined>(undefined, {
  description: "connect-rdma: the peer of this call's connection",
});

/** The Peer of a connection on `engine` whose channel tells `channel`, authenticated as `keyId` (if any). */
export function peerOf(engine: EngineName, channel: ChannelPeer | undefined, keyId: string | undefined): Peer {
  return Object.freeze({
    engine,
    ...(channel?.address !== undefined ? { address: channel.address } : {}),
    ...(channel?.credentials !== undefined ? { credentials: channel.credentials } : {}),
    ...(channel?.certificate !== undefined ? { certificate: channel.certificate } : {}),
    ...(keyId !== undefined ? { keyId } : {}),
  });
}
