// See peer_identity.h.
#include "common/peer_identity.h"

#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace crdma {

PeerIdentity ReadPeerIdentity(int fd) {
  PeerIdentity out;
  socklen_t len = sizeof out.address;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&out.address), &len) < 0) out.address.ss_family = AF_UNSPEC;
  if (out.address.ss_family == AF_UNIX) {
    ucred cred{};
    socklen_t cred_len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0) {
      out.has_credentials = true;
      out.pid = cred.pid;
      out.uid = cred.uid;
      out.gid = cred.gid;
    }
  }
  return out;
}

PeerIdentity PeerIdentityOfAddress(const sockaddr* address) {
  PeerIdentity out;
  if (address == nullptr) return out;
  if (address->sa_family == AF_INET) memcpy(&out.address, address, sizeof(sockaddr_in));
  else if (address->sa_family == AF_INET6) memcpy(&out.address, address, sizeof(sockaddr_in6));
  return out;
}

}  // namespace crdma
