// See inbound_frames.h.
#include "rdma/inbound_frames.h"

namespace crdma {

bool InboundFrames::AddRead(uint32_t token) {
  if (!tokens_.insert(token).second) return false;
  entries_.push_back(Entry{true, token});
  return true;
}

bool InboundFrames::CompleteRead(uint32_t token, size_t offset, uint32_t length) {
  if (tokens_.count(token) == 0) return false;
  for (Entry& in : entries_) {
    if (in.is_read && !in.ready && in.slot_or_token == token) {
      in.offset = offset;
      in.length = length;
      in.ready = true;
      return true;
    }
  }
  return false;
}

void InboundFrames::PopFront() {
  if (entries_.empty()) return;
  if (entries_.front().is_read) tokens_.erase(entries_.front().slot_or_token);
  entries_.pop_front();
}

}  // namespace crdma
