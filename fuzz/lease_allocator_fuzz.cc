// libFuzzer target over crdma::LeaseAllocator (native/region/lease_allocator.cc): the
// bitmap allocator behind every lease, whose request sizes a peer drives (a frame's
// announced length becomes a reassembly lease; an RDMA READ_REQUEST's length too). Owns
// only the harness: a reference model of the live leases.
//
// Input: [u16 area units] then 3-byte operations:
//   op & 3 == 0, 1: Allocate(bytes), bytes from the next two bytes (scaled)
//   op & 3 == 2:    Free() of a live lease (picked by the next byte)
//   op & 3 == 3:    Free()/SizeAt() of an arbitrary offset (mostly not a lease)
// Invariants: a lease lies inside the area, is unit-aligned, covers the bytes asked for
// and overlaps no other live lease; Allocate fails only when no free run of that many
// units exists (checked against the model's own bitmap); Free is true exactly for a live
// lease's offset; used_units / live_leases match the model.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include "region/lease_allocator.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "lease_allocator_fuzz: invariant violated: %s\n", what);
  abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) Fail(#cond); \
  } while (0)

constexpr size_t kUnit = crdma::LeaseAllocator::kUnit;

bool HasFreeRun(const std::vector<bool>& used, size_t count) {
  size_t run = 0;
  for (bool u : used) {
    run = u ? 0 : run + 1;
    if (run >= count) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t units = 1 + ((size_t{data[0]} | size_t{data[1]} << 8) % 1024);  // up to 256 KiB
  crdma::LeaseAllocator allocator(units * kUnit);
  CHECK(allocator.units() == units);
  std::map<size_t, size_t> live;  // unit -> unit count
  std::vector<bool> used(units, false);
  size_t used_units = 0;

  for (size_t i = 2; i + 3 <= size; i += 3) {
    uint8_t op = data[i];
    uint16_t arg = static_cast<uint16_t>(data[i + 1] | data[i + 2] << 8);
    switch (op & 3) {
      case 0:
      case 1: {
        // Small sizes often (the common case), occasionally up to 4x the area.
        size_t bytes = (op & 4) ? size_t{arg} * (units * 4 * kUnit) / 65536 : arg % (4 * kUnit);
        size_t count = bytes == 0 ? 1 : (bytes + kUnit - 1) / kUnit;
        int64_t offset = allocator.Allocate(bytes);
        if (offset < 0) {
          CHECK(count > units || !HasFreeRun(used, count));
          break;
        }
        CHECK(offset % kUnit == 0);
        size_t first = static_cast<size_t>(offset) / kUnit;
        CHECK(first + count <= units);
        for (size_t u = first; u < first + count; ++u) {
          CHECK(!used[u]);
          used[u] = true;
        }
        CHECK(allocator.SizeAt(static_cast<size_t>(offset)) == count * kUnit);
        CHECK(allocator.SizeAt(static_cast<size_t>(offset)) >= bytes);
        live[first] = count;
        used_units += count;
        break;
      }
      case 2: {
        if (live.empty()) break;
        auto it = live.begin();
        std::advance(it, arg % live.size());
        CHECK(allocator.Free(it->first * kUnit));
        for (size_t u = it->first; u < it->first + it->second; ++u) used[u] = false;
        used_units -= it->second;
        live.erase(it);
        break;
      }
      case 3: {
        size_t offset = size_t{arg} * (op >> 2);
        auto it = offset % kUnit == 0 ? live.find(offset / kUnit) : live.end();
        size_t expect = it == live.end() ? 0 : it->second * kUnit;
        CHECK(allocator.SizeAt(offset) == expect);
        CHECK(allocator.Free(offset) == (it != live.end()));
        if (it != live.end()) {
          for (size_t u = it->first; u < it->first + it->second; ++u) used[u] = false;
          used_units -= it->second;
          live.erase(it);
        }
        CHECK(!allocator.Free(offset));  // a second free of the same offset is refused
        break;
      }
    }
    CHECK(allocator.used_units() == used_units);
    CHECK(allocator.live_leases() == live.size());
  }
  return 0;
}
