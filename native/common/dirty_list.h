// DirtyList: the connections an engine must serve at its next flush (frames to send,
// credits to return), each listed once: a connection's own `dirty` flag says whether it
// is listed. Serving takes the whole list; connections marked while it is served go on
// the next one. Plain C++.
#pragma once
#include <cstdint>
#include <vector>

namespace crdma {

class DirtyList {
 public:
  // Lists `c` (any type with `uint32_t id` and `bool dirty`) unless it is listed already.
  template <typename Connection>
  void Mark(Connection& c) {
    if (!c.dirty) {
      c.dirty = true;
      ids_.push_back(c.id);
    }
  }
  bool empty() const { return ids_.empty(); }
  // Calls fn(id) for every listed id, in the order they were marked, and empties the list;
  // fn must clear the connection's flag. The two vectors trade places, so serving
  // allocates nothing once both have grown.
  template <typename Fn>
  void Serve(Fn&& fn) {
    serving_.swap(ids_);
    for (uint32_t id : serving_) fn(id);
    serving_.clear();
  }

 private:
  std::vector<uint32_t> ids_;
  std::vector<uint32_t> serving_;
};

}  // namespace crdma
