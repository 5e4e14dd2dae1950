// ReassemblyShare: which incoming frames an engine may take leases for (docs/LIMITS.md,
// "unsent bytes per connection" and "lease area"): the UringEngine's frames that straddle
// receive slots, the RdmaEngine's READ targets. Such a frame takes a lease from the lease
// area every connection of the engine shares; without a bound, a few peers trickling
// maximum frames fill the area and every other connection's sends wait. The rule (the
// same as src/channel/reassembly-share.ts for the net engine):
//   - a frame whose lease fits what its connection's share (maxUnsentBytes) leaves after
//     the connection's unsent frames (and its other counted incoming frames) is taken at once;
//   - any other frame (every frame larger than the share among them) is the engine's one
//     over-share frame: one at a time per engine, the others wait (io_uring: their receive
//     pauses, TCP pushes back; RDMA: the READ_REQUEST stays parked, the sender's lease stays
//     exported) until it is complete or its connection closed.
// Waiting never depends on this side's sends draining (the holder of the over-share
// place is read from, so it completes as its peer writes), so two peers sending large
// frames to each other cannot deadlock. Plain C++, one per engine, no ownership.
#pragma once
#include <cstddef>
#include <cstdint>

#include "region/lease_allocator.h"

namespace crdma {

class ReassemblyShare {
 public:
  // `limit`: lease bytes one connection may hold (the engine's maxUnsentBytes); 0: no
  // limit (every frame fits).
  explicit ReassemblyShare(size_t limit) : limit_(limit) {}

  enum class Admission { kWithinShare, kOverShare, kWait };

  // May connection `id`, holding `unsent` counted lease bytes (frames to send, and on RDMA
  // its READ targets not yet delivered), take a lease of `bytes` bytes for a frame?
  // kOverShare: only by taking the over-share place (Take() once its lease is allocated).
  Admission Admit(uint32_t id, size_t unsent, size_t bytes) const {
    if (limit_ == 0 || unsent + LeaseBytes(bytes) <= limit_) return Admission::kWithinShare;
    return over_share_ == 0 || over_share_ == id ? Admission::kOverShare : Admission::kWait;
  }
  void Take(uint32_t id) { over_share_ = id; }
  // Connection `id`'s over-share frame is complete or gone: the place is free if it held
  // it. True when it did (connections waiting for it may go on).
  bool Return(uint32_t id) {
    if (over_share_ != id || id == 0) return false;
    over_share_ = 0;
    return true;
  }

 private:
  static size_t LeaseBytes(size_t bytes) {
    return (bytes + LeaseAllocator::kUnit - 1) / LeaseAllocator::kUnit * LeaseAllocator::kUnit;
  }

  size_t limit_;
  uint32_t over_share_ = 0;  // connection id holding the over-share place, 0 when free
};

}  // namespace crdma
