// The public API of connect-rdma: exports only (see TSDoc on each declaration).

export { capabilities, type Capabilities, type RdmaDeviceInfo, type RdmaPortInfo, type RdmaPortState, type TlsPathInfo } from "./capabilities.js";
export type { ClientTlsOptions, ServerTlsOptions } from "./channel/tls-options.js";
export { Region, RegionLease, type RegionOptions } from "./region.js";
export { type CodedError, type ChannelErrorCode } from "./errors.js";
export type { Channel, ChannelEngine, ChannelEvents, ChannelStats, Lease, Listener, ListenOptions, AcceptHandler, EngineName } from "./channel/channel.js";
export { UringEngine, type UringEngineOptions } from "./channel/uring-engine.js";
export { RdmaEngine, type RdmaEngineOptions } from "./channel/rdma-engine.js";
export { ShmEngine, type ShmEngineOptions } from "./channel/shm-engine.js";
export { NetEngine, type NetEngineOptions, type NetEngineStats, type NetTlsOptions } from "./channel/net-engine.js";
export type { NetChannelStats } from "./channel/net-channel.js";
export type { NativeChannel } from "./channel/native-channel.js";
export type { NativeEngineStats, NativeUringEngineStats, NativeRdmaEngineStats, NativeRegionStats, NativeShmEngineStats } from "./binding.js";
export { engineForUrl, autoEngine, type EngineOptions } from "./channel/engines.js";
export { createMemoryEngine, MemoryEngine, MemoryChannel, type MemoryEngineOptions, type MemoryEngineStats } from "./channel/memory.js";
export {
  createRdmaTransport,
  createUringTransport,
  type PingOptions,
  type RdmaTransport,
  type RdmaTransportOptions,
  type UringTransport,
  type UringTransportOptions,
} from "./connect/transport.js";
export { createTransport, type TransportOptions } from "./connect/create-transport.js";
export { createServer, type AuthFailureInfo, type Server, type ServerOptions, type ServerRequestInfo, type ServerStats } from "./connect/server.js";
export type { ClientAuth, ServerAuthOptions } from "./frame/auth.js";
export type { AuthFailureReason } from "./frame/auth-handshake.js";
export type { TlsFailureReason } from "./channel/tls-failure.js";
export type { UnixServerOptions } from "./connect/unix-admission.js";
export { peerKey, type Peer } from "./connect/peer.js";
export type { ChannelPeer, PeerCredentials } from "./channel/channel-peer.js";
export { type MessageLimitOptions } from "./connect/message-limits.js";
export { releaseMessage, type BytesPolicy } from "./connect/decode.js";
export { type RpcStats } from "./connect/stats.js";
export { ProtocolError, StreamResetError } from "./frame/protocol-error.js";
