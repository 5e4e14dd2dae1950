// PeerIdentity: what the kernel tells about the other end of a connected socket — its
// address (getpeername) and, on a Unix socket, its process credentials (SO_PEERCRED,
// fixed by the kernel when the peer called connect()). Read once per connection, at
// accept or connect, never on the data path. Plain C++ (no napi.h).
#pragma once
#include <sys/socket.h>
#include <sys/types.h>

namespace crdma {

struct PeerIdentity {
  sockaddr_storage address{};  // ss_family AF_UNSPEC when unknown
  bool has_credentials = false;
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The identity of the peer of connected socket `fd`; fields the kernel cannot tell stay empty.
PeerIdentity ReadPeerIdentity(int fd);
// An identity holding only `address` (RDMA: the CM's destination address).
PeerIdentity PeerIdentityOfAddress(const sockaddr* address);

}  // namespace crdma
