// ReadScheduler: the engine-wide window of RDMA READ chunks in flight. A large frame is
// read in chunks of kReadChunk bytes, and at most kReadsInFlight chunks are in flight on
// the whole engine — every connection and transfer together, not each: the responder
// sends a READ's response packets unpaced (soft-RoCE: one per 1024 B of MTU), and when it
// fails to transmit one (a veth receive backlog overflowed) rxe answers with an RNR NAK
// that breaks the reading queue pair. 8 x 16 KiB keeps a burst at 128 packets per engine;
// smaller windows made small frames queued behind a large one (delivery is in order)
// wait too long. Connections that found the window full wait in the order they came
// and are handed back, all of them, when a chunk finishes. Plain C++.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace crdma {

constexpr uint32_t kReadChunk = 16 * 1024;
constexpr uint32_t kReadsInFlight = 8;

class ReadScheduler {
 public:
  bool HasRoom() const { return in_flight_ < kReadsInFlight; }
  // A chunk was posted.
  void Posted() {
    ++in_flight_;
    if (in_flight_ > peak_) peak_ = in_flight_;
  }
  // `connection` has chunks left to post and found no room (or no send queue space).
  void Wait(uint32_t connection) { waiters_.push_back(connection); }
  // A chunk finished, or was dropped with its connection: the connections that waited,
  // in the order they started waiting (they list themselves again if still short).
  std::vector<uint32_t> ChunkDone() {
    --in_flight_;
    return std::exchange(waiters_, {});
  }
  uint32_t in_flight() const { return in_flight_; }
  // Most chunks ever in flight at once (bounded by kReadsInFlight).
  uint32_t peak() const { return peak_; }

 private:
  uint32_t in_flight_ = 0;
  uint32_t peak_ = 0;
  std::vector<uint32_t> waiters_;
};

}  // namespace crdma
