// The peer of a node:net socket: its IP and port from node:net; for a Unix socket, which
// node:net cannot ask for credentials, SO_PEERCRED read by the addon on the socket's fd
// (peerOfFd). The fd is libuv's, reached through the socket's handle: read once, right
// after accept/connect, never kept.

import type { Socket } from "node:net";

import { native } from "../binding.js";
import type { ChannelAddress } from "./address.js";
import { channelPeer, type ChannelPeer } from "./channel-peer.js";

/** The ChannelPeer of `socket`, a connection through `address` (the listener's or the connect target). */
export function netPeer(socket: Socket, address: Extract<ChannelAddress, { scheme: "tcp" | "unix" }>): ChannelPeer {
  if (address.scheme === "tcp") return channelPeer("tcp", { ip: socket.remoteAddress, port: socket.remotePort });
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  const facts = typeof fd === "number" && fd >= 0 ? native().peerOfFd(fd) : undefined;
  return channelPeer("unix", facts, address.path);
}
