// UringConnection and Listener: the per-socket state of a UringEngine. A connection is
// destroyed only when no submitted operation on it can still complete (inflight == 0),
// so a completion never finds a dangling pointer. Plain C++.
#pragma once
#include <sys/socket.h>
#include <linux/time_types.h>
#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/peer_identity.h"
#include "common/unique_fd.h"
#include "uring/frame_assembler.h"
#include "uring/receive_state.h"

namespace crdma {

struct UringConnection {
  // kLingering: closed by JS gracefully; every queued frame left and our FIN went out
  // (SHUT_WR); the peer's bytes are received and dropped until its FIN, an error, or
  // JS's drain timer. Closing with unread bytes would reset the connection, and a reset
  // can destroy our last frames (a GOAWAY and its reason) before the peer read them.
  enum class State { kConnecting, kOpen, kLingering, kClosing };

  uint32_t id = 0;
  UniqueFd fd;
  State state = State::kConnecting;
  int inflight = 0;          // submitted operations whose last completion is still due
  // The multishot recv and why it is not armed (receive_state.h). Kept apart from it, as
  // flags that hold in any receive state: `reported` (what JS was told), `dirty` and
  // `in_share_waiting` (membership of an engine list), `waits_for_share` (why the backlog
  // stalled, in kPausing or kPaused alike), and the send side's `send_inflight` and
  // `close_after_send`, which go on while receiving is paused or over (TCP half-close).
  ReceiveState receive = ReceiveState::kIdle;
  bool reported = false;     // a CLOSED/CONNECTED(failure) event went to JS already
  bool dirty = false;        // in the engine's flush list
  sockaddr_storage peer{};   // connect target (must live until the CONNECT completes)
  socklen_t peer_len = 0;
  PeerIdentity identity;     // read once when the connection opened (accept or connect)
  FrameAssembler rx;
  // Receive back-pressure: filled slots not parsed yet because no lease was free for a
  // frame that straddles slots. Each entry holds a pin on its slot; the multishot recv
  // is cancelled meanwhile (ReceiveState kPausing/kPaused), so the kernel's socket buffer
  // (TCP window) pushes back.
  struct Pending {
    uint16_t bid;  // kEndOfStream: the peer's EOF, reported after the data before it
    uint32_t bytes;
  };
  static constexpr uint16_t kEndOfStream = 0xffff;
  std::deque<Pending> backlog;
  size_t backlog_pos = 0;   // parse position inside backlog.front()
  // The backlog waits for the engine's over-share place, not for memory (reassembly_share.h).
  bool waits_for_share = false;
  bool in_share_waiting = false;  // listed in the engine's share_waiting_ (at most once)
  bool close_after_send = false;  // closed by JS: shut down once queued frames left
  // Kernel TLS is installed on the socket (Adopt): sendmsg without MSG_WAITALL (the tls
  // ULP refuses it), and a failed recv is a TLS record the kernel could not open or that
  // is not application data (kReasonTlsRecord).
  bool ktls = false;

  // Send side: frames queued this turn, and the batch in flight (one sendmsg at a time
  // per connection keeps bytes in order).
  // What each iovec came from: a whole lease (freed once written), or a range of a send
  // pack (several frames JS wrote back to back into one lease), whose lease is freed
  // with its last range. `unsent` is what the entry counts in unsent_bytes.
  struct QueuedSend {
    size_t lease;
    size_t unsent;
    bool frees_lease;
  };
  std::vector<iovec> queued_iov;
  std::vector<QueuedSend> queued_leases;
  std::vector<iovec> sending_iov;
  std::vector<QueuedSend> sending_leases;
  // Send packs whose last range came after the connection began closing while earlier
  // ranges were still being written: freed when the connection is destroyed.
  std::vector<size_t> free_on_destroy;
  size_t sending_first = 0;
  bool send_inflight = false;
  msghdr msg{};
  // Lease-area bytes of the frames JS handed over and not yet written to the socket, and
  // the bytes written so far: JS bounds the first per connection and watches the second
  // for progress (a peer that stopped reading; docs/LIMITS.md).
  size_t unsent_bytes = 0;
  double written_bytes = 0;
};

struct Listener {
  uint32_t id = 0;
  UniqueFd fd;
  uint32_t first_frame_max = 0;  // FrameAssembler::LimitFirstFrame of accepted connections
  int inflight = 0;  // the multishot accept and the back-off timer
  bool closing = false;
  // Accept failing (EMFILE...): the current back-off delay (0 while accepting works; the
  // first failure of an episode is reported), the timer's deadline (the kernel reads it
  // at submit) and whether the timer is pending.
  uint32_t retry_ms = 0;
  __kernel_timespec retry_at{};
  bool retry_pending = false;
};

}  // namespace crdma
