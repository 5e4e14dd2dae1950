// MemoryRegion: the one page-aligned mapping behind a Region, and who uses which part.
//
//   [ receive slots: recv_slots x slot_size ][ lease area: lease_bytes ]
//
// Receive slots are lent to an engine (io_uring provided buffers) and pinned while JS
// looks at frames inside them; the lease area is carved into leases by LeaseAllocator.
// Shared ownership (std::shared_ptr) between the JS ArrayBuffer's finalizer, the JS
// Region object and every engine registered on it: the mapping is unmapped only when
// the last of them lets go, i.e. after deregistration and after the finalizer ran.
// Under ASan, free lease memory is poisoned (common/asan_poison.h): native code touching a
// lease after FreeLease() is reported.
// Plain C++ (no napi.h).
#pragma once
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "region/lease_allocator.h"

namespace crdma {

struct RegionLayout {
  size_t slot_size;
  uint32_t recv_slots;
  size_t lease_bytes;
};

class MemoryRegion {
 public:
  explicit MemoryRegion(const RegionLayout& layout);  // throws SysError
  ~MemoryRegion();
  MemoryRegion(const MemoryRegion&) = delete;
  MemoryRegion& operator=(const MemoryRegion&) = delete;

  uint8_t* base() const { return base_; }
  size_t size() const { return size_; }
  size_t slot_size() const { return layout_.slot_size; }
  uint32_t recv_slots() const { return layout_.recv_slots; }
  size_t recv_area_bytes() const { return layout_.slot_size * layout_.recv_slots; }
  size_t lease_area_bytes() const { return layout_.lease_bytes; }
  uint8_t* slot(uint32_t index) const { return base_ + size_t{index} * layout_.slot_size; }

  // Leases: offsets are relative to base(). -1 when the area is full.
  int64_t AllocateLease(size_t bytes);
  bool FreeLease(size_t offset);
  const LeaseAllocator& leases() const { return leases_; }

  // Receive-slot pins: a slot goes back to its engine only when unpinned.
  void PinSlot(uint32_t index) { ++slot_pins_[index]; }
  // Returns the remaining pin count.
  uint32_t UnpinSlot(uint32_t index) { return --slot_pins_[index]; }
  uint32_t SlotPins(uint32_t index) const { return slot_pins_[index]; }
  // JS holds a received frame (channel.hold): one more pin on the slot under `offset`, if
  // that slot is pinned already (only slots of frames being delivered are): its index,
  // or -EINVAL.
  int HoldReceivedSlot(size_t offset) {
    if (offset >= recv_area_bytes()) return -EINVAL;
    uint32_t index = static_cast<uint32_t>(offset / layout_.slot_size);
    if (slot_pins_[index] == 0) return -EINVAL;
    ++slot_pins_[index];
    return static_cast<int>(index);
  }
  // One pin of slot `index` dropped (an unknown or unpinned index is ignored): true when
  // it was the last one and the engine must take the slot back.
  bool ReleaseSlotPin(uint32_t index) {
    if (index >= layout_.recv_slots || slot_pins_[index] == 0) return false;
    return --slot_pins_[index] == 0;
  }

  // Test aid: overwrite memory that was given back, so a stale view shows garbage.
  void set_poison(bool on) { poison_ = on; }
  void PoisonIfEnabled(uint8_t* p, size_t n) const;

  // Marks the region closed; allocation stops. Memory stays mapped until destruction.
  void Close() { closed_ = true; }
  bool closed() const { return closed_; }

 private:
  RegionLayout layout_;
  size_t size_;
  uint8_t* base_;
  LeaseAllocator leases_;
  std::vector<uint32_t> slot_pins_;
  bool poison_ = false;
  bool closed_ = false;
};
static_assert(!std::is_copy_constructible_v<MemoryRegion>);

// Number of MemoryRegion objects alive in this process (for leak tests).
int64_t LiveMemoryRegions();

}  // namespace crdma
