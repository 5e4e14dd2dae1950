// Connection and Listener: the per-socket state of a UringEngine. A connection is
// destroyed only when no submitted operation on it can still complete (inflight == 0),
// so a completion never finds a dangling pointer. Plain C++.
#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "uring/frame_assembler.h"

namespace crdma {

struct Connection {
  enum class State { kConnecting, kOpen, kClosing };

  uint32_t id = 0;
  UniqueFd fd;
  State state = State::kConnecting;
  int inflight = 0;          // submitted operations whose last completion is still due
  bool recv_armed = false;   // a multishot recv is active
  bool recv_starved = false; // recv stopped for lack of provided buffers
  bool reported = false;     // a CLOSED/CONNECTED(failure) event went to JS already
  bool dirty = false;        // in the engine's flush list
  sockaddr_storage peer{};   // connect target (must live until the CONNECT completes)
  socklen_t peer_len = 0;
  FrameAssembler rx;

  // Send side: frames queued this turn, and the batch in flight (one sendmsg at a time
  // per connection keeps bytes in order).
  std::vector<iovec> queued_iov;
  std::vector<size_t> queued_leases;
  std::vector<iovec> sending_iov;
  std::vector<size_t> sending_leases;
  size_t sending_first = 0;
  bool send_inflight = false;
  msghdr msg{};
};

struct Listener {
  uint32_t id = 0;
  UniqueFd fd;
  int inflight = 0;
  bool closing = false;
};

}  // namespace crdma
