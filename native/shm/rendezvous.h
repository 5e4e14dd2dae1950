// Rendezvous: the Unix-socket steps of setting up an shm:// connection — passing file
// descriptors with SCM_RIGHTS, the peer's credentials (SO_PEERCRED), and checking that a
// received fd is what the peer claims (an eventfd). Plain C++ (no napi.h).
//
// The handshake (docs/CHANNELS.md §5): on accept the server sends a Hello
//   { u32 magic "CRSM", u32 version 1, u64 ring capacity } + [memfd, server eventfd];
// the client checks and maps the region, and answers
//   { u32 magic, u32 version } + [client eventfd].
// After that the socket carries nothing: its end (EOF, HUP) is the peer's end.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include <vector>

#include "common/peer_identity.h"
#include "common/unique_fd.h"

namespace crdma::shm {

constexpr uint32_t kMagic = 0x4d535243;  // "CRSM"
constexpr uint32_t kVersion = 1;

struct Hello {
  uint32_t magic;
  uint32_t version;
  uint64_t capacity;
};

// Sends `bytes` of `data` with `count` fds; -errno or the bytes sent.
ssize_t SendWithFds(int socket, const void* data, size_t bytes, const int* fds, int count);
// Receives up to `bytes` into `data` and at most `max_fds` fds (the rest are closed);
// -errno, 0 at EOF, or the bytes received. `*received` says how many fds arrived.
ssize_t RecvWithFds(int socket, void* data, size_t bytes, UniqueFd* fds, int max_fds, int* received);
// The uid of the process at the other end, or -1.
long PeerUid(int socket);
// True when `fd` is an eventfd (we write 8 bytes to it to wake the peer).
bool IsEventFd(int fd);

// Who a listener admits (the server's `unix` option, allowUids/allowGids): decided at
// accept from SO_PEERCRED, before the rendezvous sends the region, so a refused peer
// never holds its memfd. `restricted` false: everyone (the same-user rule aside).
struct Admission {
  bool restricted = false;
  std::vector<uint32_t> uids, gids;
  // True when `peer` runs as one of `uids` or with its primary gid in `gids` (or !restricted).
  bool Admits(const PeerIdentity& peer) const;
};

}  // namespace crdma::shm
