// InboundFrames: one RDMA connection's received frames in arrival order while an RDMA
// READ is ahead of them (frames are delivered strictly in order), and the READ tokens in
// use. A token is in use from its READ_REQUEST until its frame is delivered — waiting for
// a lease, being read, or read and not yet delivered — and a peer that reuses one in any
// of those states is breaking the protocol: a second entry under one token would never
// become ready (everything behind it waits with its slots pinned) and the first one's
// lease would leak. Pure bookkeeping (no verbs, no region), so it is fuzzed on its own
// (fuzz/inbound_frames_fuzz.cc). Plain C++.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_set>

namespace crdma {

class InboundFrames {
 public:
  struct Entry {
    bool is_read;
    uint32_t slot_or_token;  // slot of a SEND (pinned), token of a READ
    size_t offset = 0;       // region offset of the body (a READ: set once it completed)
    uint32_t length = 0;
    bool ready = false;
  };

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  bool TokenInUse(uint32_t token) const { return tokens_.count(token) > 0; }
  // A READ_REQUEST arrived: false (nothing recorded) when its token is in use.
  bool AddRead(uint32_t token);
  // A SEND behind a READ: waits its turn, ready at once.
  void AddSend(uint32_t slot, size_t offset, uint32_t length) { entries_.push_back(Entry{false, slot, offset, length, true}); }
  // The READ of `token` landed in the lease at `offset`: false when no such READ waits.
  bool CompleteRead(uint32_t token, size_t offset, uint32_t length);
  // The front entry if it is ready to deliver (nullptr otherwise); PopFront() removes it.
  const Entry* ReadyFront() const { return !entries_.empty() && entries_.front().ready ? &entries_.front() : nullptr; }
  void PopFront();

  std::deque<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::deque<Entry>::const_iterator end() const { return entries_.end(); }

 private:
  std::deque<Entry> entries_;
  std::unordered_set<uint32_t> tokens_;  // the tokens of the READ entries
};

}  // namespace crdma
