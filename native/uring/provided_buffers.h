// ProvidedBuffers: the receive slots of a MemoryRegion registered with a Ring as one
// provided-buffer ring (IORING_REGISTER_PBUF_RING). Multishot recv picks a free slot per
// completion; a slot comes back (Recycle) only once nothing in JS pins it any more.
// Plain C++. Destruction: unregister the buffer group, then unmap the ring memory.
#pragma once
#include <liburing.h>

#include <cstdint>
#include <memory>
#include <type_traits>

#include "region/memory_region.h"
#include "uring/ring.h"

namespace crdma {

class ProvidedBuffers {
 public:
  static constexpr uint16_t kGroup = 1;

  // Registers every receive slot of `region` on `ring`. Throws SysError.
  ProvidedBuffers(Ring& ring, std::shared_ptr<MemoryRegion> region);
  ~ProvidedBuffers();
  ProvidedBuffers(const ProvidedBuffers&) = delete;
  ProvidedBuffers& operator=(const ProvidedBuffers&) = delete;

  // Gives slot `bid` back to the kernel (visible after Commit()).
  void Recycle(uint16_t bid);
  // Publishes recycled slots to the kernel in one tail update.
  void Commit();
  // A receive completion took one slot out of the kernel's hands.
  void Consumed() { --in_kernel_; }
  uint32_t free_in_kernel() const { return in_kernel_; }
  uint32_t count() const { return entries_; }

 private:
  Ring& ring_;
  std::shared_ptr<MemoryRegion> region_;
  uint32_t entries_;  // power of two >= region's receive slots
  size_t ring_bytes_;
  io_uring_buf_ring* buf_ring_ = nullptr;
  int pending_ = 0;
  uint32_t in_kernel_ = 0;
};
static_assert(!std::is_copy_constructible_v<ProvidedBuffers>);

}  // namespace crdma
