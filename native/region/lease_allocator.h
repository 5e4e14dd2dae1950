// LeaseAllocator: hands out runs of fixed-size units inside the lease area of a region.
// A bitmap (one bit per unit) with a next-fit cursor, plus a last-in-first-out stack of
// recently freed runs per small size (up to kRecentMaxUnits): a stream of small frames
// keeps reusing the same warm cache lines and pages instead of sweeping the whole area.
// The unit count of each live lease is remembered at its first unit so Free() needs only
// the offset.
// Plain C++, single-threaded (one event loop owns it).
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace crdma {

class LeaseAllocator {
 public:
  static constexpr size_t kUnit = 256;
  static constexpr size_t kRecentMaxUnits = 16;   // 4 KiB
  static constexpr size_t kRecentPerSize = 1024;

  explicit LeaseAllocator(size_t area_bytes);
  LeaseAllocator(const LeaseAllocator&) = delete;
  LeaseAllocator& operator=(const LeaseAllocator&) = delete;

  // Offset (relative to the lease area) of `bytes` free bytes, or -1 when no run fits.
  int64_t Allocate(size_t bytes);
  // Returns the run starting at `offset`; false when no live lease starts there.
  bool Free(size_t offset);
  // Bytes of the live lease at `offset`, 0 when none.
  size_t SizeAt(size_t offset) const;

  size_t units() const { return units_; }
  size_t used_units() const { return used_units_; }
  size_t live_leases() const { return live_leases_; }

 private:
  bool IsFree(size_t unit) const { return !(bits_[unit >> 6] >> (unit & 63) & 1); }
  bool RunFree(size_t first, size_t count) const;
  int64_t TakeRecent(size_t count);
  void Mark(size_t first, size_t count, bool used);
  int64_t FindRun(size_t count, size_t from, size_t to) const;

  size_t units_;
  std::vector<uint64_t> bits_;       // 1 = unit in use
  std::vector<uint32_t> run_units_;  // at a lease's first unit: its unit count
  std::vector<uint32_t> recent_[kRecentMaxUnits + 1];  // by unit count: first units of freed runs
  size_t cursor_ = 0;
  size_t used_units_ = 0;
  size_t live_leases_ = 0;
};
static_assert(!std::is_copy_constructible_v<LeaseAllocator>);

}  // namespace crdma
