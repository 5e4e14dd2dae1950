// See socket_functions_js.h.
#include "common/socket_functions_js.h"

#include <sys/socket.h>

#include "common/js_error.h"
#include "common/peer_identity.h"
#include "common/peer_identity_js.h"
#include "common/socket_address.h"
#include "common/sys_error.h"
#include "common/unique_fd.h"
#include "common/unix_bind.h"

namespace crdma {

Napi::Value PeerOfFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "peerOfFd needs a file descriptor").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return PeerIdentityToJs(env, ReadPeerIdentity(info[0].As<Napi::Number>().Int32Value()));
}

Napi::Value ListenUnixFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sockaddr_storage addr;
  socklen_t len;
  if (!UnixAddress(info[0].As<Napi::String>().Utf8Value(), &addr, &len)) {
    Napi::RangeError::New(env, "unix socket path is empty or too long").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  try {
    // Blocking is what node:net expects of an fd it adopts (libuv sets O_NONBLOCK itself).
    UniqueFd fd(CheckSys(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket"));
    BindUnixSocket(fd.get(), reinterpret_cast<const sockaddr_un&>(addr), len, info[1].As<Napi::Number>().Uint32Value());
    CheckSys(listen(fd.get(), info[2].As<Napi::Number>().Int32Value()), "listen");
    int out = fd.get();
    fd.Release();
    return Napi::Number::New(env, out);
  } catch (const SysError& e) {
    ThrowSysError(env, e);
    return env.Undefined();
  }
}

}  // namespace crdma
