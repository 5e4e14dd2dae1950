// See peer_identity_js.h.
#include "common/peer_identity_js.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>

#include "common/socket_address.h"

namespace crdma {

Napi::Object PeerIdentityToJs(Napi::Env env, const PeerIdentity& peer) {
  Napi::Object out = Napi::Object::New(env);
  const sockaddr_storage& a = peer.address;
  char ip[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, ip, sizeof ip);
  } else if (a.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, ip, sizeof ip);
  }
  if (ip[0] != 0) {
    out.Set("ip", std::string(ip));
    out.Set("port", Napi::Number::New(env, PortOf(a)));
  }
  if (a.ss_family == AF_UNIX) {
    // A client socket is usually unbound: its path is empty (or abstract, starting with NUL).
    const char* path = reinterpret_cast<const sockaddr_un&>(a).sun_path;
    size_t n = strnlen(path, sizeof(sockaddr_un::sun_path));
    if (n > 0) out.Set("path", std::string(path, n));
  }
  if (peer.has_credentials) {
    out.Set("pid", Napi::Number::New(env, peer.pid));
    out.Set("uid", Napi::Number::New(env, peer.uid));
    out.Set("gid", Napi::Number::New(env, peer.gid));
  }
  return out;
}

}  // namespace crdma
