// See memory_region.h.
#include "region/memory_region.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "common/asan_poison.h"
#include "common/sys_error.h"

namespace crdma {
namespace {
std::atomic<int64_t> g_live_regions{0};

size_t PageAlign(size_t n) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}
}  // namespace

int64_t LiveMemoryRegions() { return g_live_regions.load(); }

MemoryRegion::MemoryRegion(const RegionLayout& layout)
    : layout_(layout),
      size_(PageAlign(layout.slot_size * layout.recv_slots + layout.lease_bytes)),
      base_(nullptr),
      leases_(layout.lease_bytes),
      slot_pins_(layout.recv_slots, 0) {
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) throw SysError{errno, "mmap"};
  base_ = static_cast<uint8_t*>(p);
  AsanPoison(base_ + recv_area_bytes(), layout_.lease_bytes);  // every lease is free
  ++g_live_regions;
}

MemoryRegion::~MemoryRegion() {
  AsanUnpoison(base_, size_);  // the addresses may be mapped again for something else
  munmap(base_, size_);
  --g_live_regions;
}

int64_t MemoryRegion::AllocateLease(size_t bytes) {
  if (closed_) return -1;
  int64_t off = leases_.Allocate(bytes);
  if (off < 0) return -1;
  size_t at = static_cast<size_t>(off) + recv_area_bytes();
  AsanUnpoison(base_ + at, leases_.SizeAt(static_cast<size_t>(off)));
  return static_cast<int64_t>(at);
}

bool MemoryRegion::FreeLease(size_t offset) {
  if (offset < recv_area_bytes()) return false;
  size_t rel = offset - recv_area_bytes();
  size_t bytes = leases_.SizeAt(rel);
  if (bytes == 0) return false;
  PoisonIfEnabled(base_ + offset, bytes);
  AsanPoison(base_ + offset, bytes);
  return leases_.Free(rel);
}

void MemoryRegion::PoisonIfEnabled(uint8_t* p, size_t n) const {
  if (poison_) memset(p, 0xDB, n);
}

}  // namespace crdma
