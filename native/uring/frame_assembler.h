// FrameAssembler: cuts one connection's byte stream into frames.
//
// Wire format of the channel layer (docs/CHANNELS.md §1): every frame is
//   [ u32 little-endian body length ][ body ]
// A frame whose body lies inside one receive slot is reported as a view (offset into
// the region); a frame that straddles slots is copied once, natively, into a lease (the
// 4 header bytes included, so the lease can be sent on as it is). Plain C++.
#pragma once
#include <cstdint>
#include <cstring>

namespace crdma {

struct FrameAssembler {
  uint8_t header[4];
  uint32_t header_have = 0;
  int64_t lease_offset = -1;    // region offset of the lease being filled, -1 when none
  bool awaiting_lease = false;  // header parsed, no lease free yet (back-pressure)
  uint32_t body_length = 0;
  uint32_t body_have = 0;

  bool MidFrame() const { return header_have > 0 || lease_offset >= 0 || awaiting_lease; }
};

inline uint32_t LoadLe32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;  // x86-64 / aarch64 Linux: little endian
}

inline void StoreLe32(uint8_t* p, uint32_t v) { memcpy(p, &v, 4); }

}  // namespace crdma
