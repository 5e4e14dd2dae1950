// The addon's free functions on sockets the node:net engine owns: node:net can neither
// read a Unix peer's credentials nor restrict a socket file's mode before it exists.
//   peerOfFd(fd)                       -> NativePeer (peer_identity_js.h) of a connected socket
//   listenUnixFd(path, mode, backlog)  -> the fd of a listening Unix socket (BindUnixSocket),
//                                         which node:net adopts with server.listen({ fd })
#pragma once
#include <napi.h>

namespace crdma {

Napi::Value PeerOfFd(const Napi::CallbackInfo& info);
Napi::Value ListenUnixFd(const Napi::CallbackInfo& info);

}  // namespace crdma
