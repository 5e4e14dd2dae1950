// See frame_assembler.h.
#include "uring/frame_assembler.h"

namespace crdma {

ParseResult FrameAssembler::Consume(const uint8_t* buffer, size_t n, size_t* pos_io, uint32_t max_frame_bytes,
                                    size_t lease_capacity, FrameHooks& hooks) {
  size_t pos = *pos_io;
  while (pos < n) {
    if (!hooks.Open()) {
      *pos_io = pos;
      return ParseResult::kClosed;
    }
    if (lease_) {  // continue a frame that straddles buffers
      size_t take = n - pos;
      if (take > body_length_ - body_have_) take = body_length_ - body_have_;
      memcpy(lease_ + 4 + body_have_, buffer + pos, take);
      body_have_ += static_cast<uint32_t>(take);
      pos += take;
      if (body_have_ == body_length_) {
        int64_t handle = lease_handle_;
        lease_ = nullptr;
        lease_handle_ = -1;
        hooks.OnLease(handle, body_length_);
      }
      continue;
    }
    uint32_t length;
    if (awaiting_lease_) {  // resumed: the header was parsed before we stalled
      length = body_length_;
      awaiting_lease_ = false;
    } else {
      if (header_have_ > 0 || n - pos < 4) {  // the length header itself straddles buffers
        size_t take = 4 - header_have_;
        if (take > n - pos) take = n - pos;
        memcpy(header_ + header_have_, buffer + pos, take);
        header_have_ += static_cast<uint32_t>(take);
        pos += take;
        if (header_have_ < 4) break;
        header_have_ = 0;
        length = LoadLe32(header_);
      } else {
        length = LoadLe32(buffer + pos);
        pos += 4;
      }
      const uint32_t first_limit = first_limit_;
      first_limit_ = 0;
      if (first_limit != 0 && length > first_limit) {
        *pos_io = pos;
        return ParseResult::kNotProtocol;
      }
      if (length > max_frame_bytes) {
        *pos_io = pos;
        return ParseResult::kTooLarge;
      }
    }
    // A stall can happen right after a header that ended a buffer: the body may then lie
    // wholly inside the next one, so the fit check comes after both paths
    // (fuzz/corpus/frame_assembler/regression-stall-after-header-at-buffer-end).
    if (n - pos >= length) {  // whole body inside this buffer: a view, no copy
      hooks.OnView(pos, length);
      pos += length;
      continue;
    }
    if (size_t{length} + 4 > lease_capacity) {  // could never fit: don't wait forever
      *pos_io = pos;
      return ParseResult::kNeverFits;
    }
    int64_t handle = -1;
    uint8_t* lease = hooks.AllocateLease(size_t{length} + 4, &handle);
    if (!lease) {  // back-pressure: park here until a lease is free
      awaiting_lease_ = true;
      body_length_ = length;
      *pos_io = pos;
      return ParseResult::kStalled;
    }
    awaiting_lease_ = false;
    StoreLe32(lease, length);
    size_t take = n - pos;
    memcpy(lease + 4, buffer + pos, take);
    lease_ = lease;
    lease_handle_ = handle;
    body_length_ = length;
    body_have_ = static_cast<uint32_t>(take);
    pos = n;
  }
  *pos_io = pos;
  return ParseResult::kConsumed;
}

}  // namespace crdma
