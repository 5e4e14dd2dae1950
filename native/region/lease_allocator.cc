// See lease_allocator.h.
#include "region/lease_allocator.h"

namespace crdma {

LeaseAllocator::LeaseAllocator(size_t area_bytes)
    : units_(area_bytes / kUnit), bits_((units_ + 63) / 64, 0), run_units_(units_, 0) {
  // Units past the end of the area in the last word are permanently "used".
  for (size_t u = units_; u < bits_.size() * 64; ++u) bits_[u >> 6] |= uint64_t{1} << (u & 63);
}

void LeaseAllocator::Mark(size_t first, size_t count, bool used) {
  for (size_t u = first; u < first + count;) {
    size_t word = u >> 6, bit = u & 63;
    size_t n = count - (u - first);
    if (n > 64 - bit) n = 64 - bit;
    uint64_t mask = (n == 64) ? ~uint64_t{0} : ((uint64_t{1} << n) - 1) << bit;
    if (used) bits_[word] |= mask; else bits_[word] &= ~mask;
    u += n;
  }
}

int64_t LeaseAllocator::FindRun(size_t count, size_t from, size_t to) const {
  size_t run = 0;
  for (size_t u = from; u < to;) {
    uint64_t word = bits_[u >> 6];
    if ((u & 63) == 0 && word == ~uint64_t{0}) {  // whole word busy: skip it
      run = 0;
      u += 64;
      continue;
    }
    if (count == 1 && (u & 63) == 0) {  // fast path: first free bit of this word
      size_t bit = __builtin_ctzll(~word);
      if (u + bit < to) return static_cast<int64_t>(u + bit);
      return -1;
    }
    if (IsFree(u)) {
      if (++run == count) return static_cast<int64_t>(u + 1 - count);
    } else {
      run = 0;
    }
    ++u;
  }
  return -1;
}

bool LeaseAllocator::RunFree(size_t first, size_t count) const {
  if (first + count > units_) return false;
  for (size_t u = first; u < first + count; ++u) {
    if (!IsFree(u)) return false;
  }
  return true;
}

// A recently freed run of exactly `count` units that is still free, or -1.
int64_t LeaseAllocator::TakeRecent(size_t count) {
  std::vector<uint32_t>& stack = recent_[count];
  while (!stack.empty()) {
    uint32_t first = stack.back();
    stack.pop_back();
    if (RunFree(first, count)) return first;  // else the scan took part of it since
  }
  return -1;
}

int64_t LeaseAllocator::Allocate(size_t bytes) {
  size_t count = bytes == 0 ? 1 : (bytes + kUnit - 1) / kUnit;
  if (count > units_ - used_units_) return -1;
  int64_t first = count <= kRecentMaxUnits ? TakeRecent(count) : -1;
  if (first >= 0) {
    size_t unit = static_cast<size_t>(first);
    Mark(unit, count, true);
    run_units_[unit] = static_cast<uint32_t>(count);
    used_units_ += count;
    ++live_leases_;
    return static_cast<int64_t>(unit * kUnit);
  }
  first = FindRun(count, cursor_ & ~size_t{63}, units_);
  if (first < 0 && cursor_ > 0) first = FindRun(count, 0, units_);
  if (first < 0) return -1;
  size_t unit = static_cast<size_t>(first);
  Mark(unit, count, true);
  run_units_[unit] = static_cast<uint32_t>(count);
  cursor_ = unit + count < units_ ? unit + count : 0;
  used_units_ += count;
  ++live_leases_;
  return static_cast<int64_t>(unit * kUnit);
}

bool LeaseAllocator::Free(size_t offset) {
  if (offset % kUnit != 0) return false;
  size_t unit = offset / kUnit;
  if (unit >= units_ || run_units_[unit] == 0) return false;
  size_t count = run_units_[unit];
  run_units_[unit] = 0;
  Mark(unit, count, false);
  if (count <= kRecentMaxUnits && recent_[count].size() < kRecentPerSize) recent_[count].push_back(static_cast<uint32_t>(unit));
  used_units_ -= count;
  --live_leases_;
  return true;
}

size_t LeaseAllocator::SizeAt(size_t offset) const {
  if (offset % kUnit != 0 || offset / kUnit >= units_) return 0;
  return size_t{run_units_[offset / kUnit]} * kUnit;
}

}  // namespace crdma
