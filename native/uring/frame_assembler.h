// FrameAssembler: cuts one connection's byte stream into frames. Pure parsing — no
// io_uring, no region — so it can be fuzzed on its own (fuzz/frame_assembler_fuzz.cc).
//
// Wire format of the channel layer (docs/CHANNELS.md §1): every frame is
//   [ u32 little-endian body length ][ body ]
// Consume() walks one received buffer. A frame whose body lies inside the buffer is
// reported as a view (its position in the buffer); a frame that continues past it is
// copied once into a lease the hooks provide (header included, so the lease can be sent
// on as it is) and reported when complete. When no lease is free the parse stops
// (kStalled) at a position Consume() can resume from later. Plain C++.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace crdma {

inline uint32_t LoadLe32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;  // x86-64 / aarch64 Linux: little endian
}

inline void StoreLe32(uint8_t* p, uint32_t v) { memcpy(p, &v, 4); }

// What the assembler needs from its owner.
class FrameHooks {
 public:
  virtual ~FrameHooks() = default;
  // A whole frame whose body is buffer[pos, pos + length).
  virtual void OnView(size_t pos, uint32_t length) = 0;
  // A lease of `bytes` bytes: its address, or nullptr when none is free right now.
  // *handle identifies it in OnLease.
  virtual uint8_t* AllocateLease(size_t bytes, int64_t* handle) = 0;
  // A whole frame reassembled in the lease `handle` (body at +4).
  virtual void OnLease(int64_t handle, uint32_t length) = 0;
  // Keep parsing? (false once the owner closed the connection from a callback).
  virtual bool Open() = 0;
};

enum class ParseResult {
  kConsumed,   // every byte of the buffer was used
  kStalled,    // no lease free: resume from *pos later
  kTooLarge,   // a length above max_frame_bytes: close the connection
  kNotProtocol,  // the first frame's length above LimitFirstFrame(): the peer speaks
                 // something else (a TLS record header reads as >= 66,326): close
  kNeverFits,  // a frame larger than the whole lease area: close the connection
  kClosed,     // the owner closed the connection from a callback
};

class FrameAssembler {
 public:
  // Parses buffer[*pos, n); advances *pos.
  ParseResult Consume(const uint8_t* buffer, size_t n, size_t* pos, uint32_t max_frame_bytes,
                      size_t lease_capacity, FrameHooks& hooks);
  // The connection's first frame (HELLO, or the GOAWAY refusing it) may announce at most
  // `bytes`; a larger length is kNotProtocol. 0 (the default): no such limit.
  void LimitFirstFrame(uint32_t bytes) { first_limit_ = bytes; }
  // True inside a frame (a peer ending the stream now ends it mid-frame).
  bool MidFrame() const { return header_have_ > 0 || lease_ != nullptr || awaiting_lease_; }
  // Bytes of the current frame that arrived (length header included): 0 between frames
  // and while this side waits for a lease (then the stall is ours, not the peer's).
  uint32_t PartialBytes() const {
    if (awaiting_lease_) return 0;
    return lease_ ? 4 + body_have_ : header_have_;
  }
  // The lease being filled, to be freed when the connection dies (-1 when none).
  int64_t pending_lease() const { return lease_ ? lease_handle_ : -1; }
  void DropPendingLease() {
    lease_ = nullptr;
    lease_handle_ = -1;
  }

 private:
  uint8_t header_[4];
  uint32_t header_have_ = 0;
  uint8_t* lease_ = nullptr;  // lease being filled
  int64_t lease_handle_ = -1;
  bool awaiting_lease_ = false;  // header parsed, no lease free yet (back-pressure)
  uint32_t body_length_ = 0;
  uint32_t body_have_ = 0;
  uint32_t first_limit_ = 0;  // applies to the next header parsed, then cleared
};

}  // namespace crdma
