// What a channel knows about the process at its other end: the peer's address and, where
// the transport tells, who it is (a unix socket's credentials, a TLS certificate). Filled
// by each engine when the connection is accepted or established; the Connect layer turns
// it into the handler's view of the peer (src/connect/peer.ts).

import { formatChannelUrl, type ChannelAddress } from "./address.js";

/** A unix-socket peer's identity as the kernel reports it (SO_PEERCRED at connect time). */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** What a channel knows about its peer; fields the transport cannot tell are absent. */
export interface ChannelPeer {
  /** The peer's address as a URL of the channel's scheme (tcp://10.0.0.2:51234, unix:///path, rdma://…), when known. */
  readonly address?: string;
  /** unix:// only: the peer process's pid, uid and gid. */
  readonly credentials?: PeerCredentials;
  /** TLS only: the certificate the peer presented (node:tls's getPeerCertificate(true)), when it presented one. */
  readonly certificate?: import("node:tls").DetailedPeerCertificate;
  /**
   * TLS server side only: why the client's certificate was refused (none presented, or not
   * signed by the server's `ca`) when the server requires one. The server then answers the
   * connection with GOAWAY Unauthenticated carrying this reason and runs no call.
   */
  readonly certificateError?: string;
}

/** What the kernel told about a connection's other end (src/binding.ts NativePeer, or node:net's socket). */
export interface PeerFacts {
  readonly ip?: string | undefined;
  readonly port?: number | undefined;
  /** A Unix peer's own bound path (a client's socket usually has none). */
  readonly path?: string | undefined;
  readonly pid?: number | undefined;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
}

/**
 * The ChannelPeer of a connection of `scheme`. For tcp:// and rdma:// the address is the
 * peer's IP and port. A Unix client has no address of its own, so for unix:// and shm://
 * it is the socket file the connection goes through (`socketPath`: the listener's on the
 * server, the connect target on the client), unless the peer bound a path of its own.
 */
export function channelPeer(scheme: ChannelAddress["scheme"], facts: PeerFacts | undefined, socketPath?: string): ChannelPeer {
  let address: string | undefined;
  if ((scheme === "tcp" || scheme === "rdma") && facts?.ip !== undefined && facts.port !== undefined) {
    address = formatChannelUrl({ scheme, host: facts.ip, port: facts.port });
  } else if (scheme === "unix" || scheme === "shm") {
    const path = facts?.path ?? socketPath;
    if (path !== undefined) address = formatChannelUrl({ scheme, path });
  }
  const { pid, uid, gid } = facts ?? {};
  const credentials = pid !== undefined && uid !== undefined && gid !== undefined ? Object.freeze({ pid, uid, gid }) : undefined;
  return Object.freeze({
    ...(address !== undefined ? { address } : {}),
    ...(credentials !== undefined ? { credentials } : {}),
  });
}
