// What a channel knows about the process at its other end: the peer's address and, where
// the transport tells, who it is (a unix socket's credentials, a TLS certificate). Filled
// by each engine when the connection is accepted or established; the Connect layer turns
// it into the handler's view of the peer (src/connect/peer.ts).

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
