// ShmConnection: one shm:// connection's state inside ShmEngine — its rendezvous socket,
// its mapping, the peer's wake fd, the two ring ends, the frames JS still looks at in
// place, and the leases waiting for ring space. Plain C++ (no napi.h).
//
// Destruction order (members in acquisition order, destroyed in reverse): the ring ends
// (plain views), the peer's wake fd, then our reference to the mapping (the JS
// ArrayBuffer may keep it mapped longer), then the socket — its close is what tells the
// peer we are gone, so it goes last, after nothing of ours touches the region.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>

#include "common/events.h"
#include "common/peer_identity.h"
#include "common/unique_fd.h"
#include "shm/shm_mapping.h"
#include "shm/shm_ring.h"

namespace crdma::shm {

// A queued frame whose lease was already freed: too large for the ring (reported).
constexpr size_t kNoLease = ~size_t{0};

struct QueuedSend {
  size_t lease_offset;
  uint32_t length;
};

// A frame delivered to JS and not yet given back to the ring.
struct Delivered {
  size_t offset;  // body offset in the mapping
  uint64_t end;   // read count past the record
  bool held;
};

struct ShmConnection {
  enum class State { kAwaitHello, kAwaitReply, kOpen, kClosing, kDead };

  ShmConnection(uint32_t id_, int side_, UniqueFd socket_) : id(id_), side(side_), socket(std::move(socket_)) {}

  uint32_t id;
  int side;  // 0: server, 1: client
  UniqueFd socket;
  std::shared_ptr<ShmMapping> mapping;
  UniqueFd peer_wake;
  PeerIdentity identity;  // the rendezvous socket's peer, read once at accept/connect
  std::optional<RingReader> reader;
  std::optional<RingWriter> writer;

  State state = State::kAwaitHello;
  uint64_t rendezvous_deadline_ms = 0;  // server side, kAwaitReply: closed when passed
  uint32_t listener = 0;
  bool peer_gone = false;    // the socket ended
  int pending_err = 0;       // a failure found while sending, reported at the next Reap
  CloseReason pending_reason = kReasonNone;
  uint32_t sleeping = 0;     // what our sleep word in the region holds (0: awake; shm_ring.h)
  bool wake_due = false;     // we published a tail since the last wake check
  bool buffer_made = false;  // the one ArrayBuffer over the mapping exists
  size_t in_place = 0;           // body offset (in the mapping) of the writer's open record, for JS
  uint32_t in_place_length = 0;  // and the bytes JS may write there
  std::deque<QueuedSend> queued;
  std::deque<Delivered> delivered;
  double unsent_bytes = 0;
  double written_bytes = 0;

  bool open() const { return state == State::kOpen || state == State::kClosing; }
  // Our frames (or the close record) wait for the peer to free ring space.
  bool waits_for_room() const { return !queued.empty() || (state == State::kClosing && !peer_gone); }
  std::atomic<uint32_t>* my_sleep_word() const { return SleepWordOf(mapping->base(), side); }
  std::atomic<uint32_t>* peer_sleep_word() const { return SleepWordOf(mapping->base(), 1 - side); }
};

}  // namespace crdma::shm
