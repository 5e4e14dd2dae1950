// libFuzzer target over crdma::FrameAssembler (native/uring/frame_assembler.cc): the
// parser that cuts a uring connection's untrusted byte stream into frames. Owns only the
// test harness: a fake FrameHooks and a trivial reference parser.
//
// Input layout: 8 config bytes, then the byte stream a peer sends.
//   [0..3]  PRNG seed: buffer split sizes, lease failures, owner closes
//   [4]     max_frame_bytes selector     [5] lease capacity selector
//   [6]     lease failure rate (/256)    [7] largest buffer selector
// The stream is cut into buffers of random sizes, each a fresh heap block of exactly that
// size (ASan flags any read past it); leases are heap blocks of exactly the requested
// size (ASan flags any write past them) and are freed once delivered. The allocator fails
// at random and when the capacity is used up (the parser must stall and resume from the
// same position later, like the engine's backlog), and the owner may close the connection
// from a callback. Invariants checked against the reference parse of the same stream:
//   - the frames delivered are exactly the reference's, same bytes, same order;
//   - a view lies inside its buffer; a lease is exactly 4 + length bytes with the length
//     written in front; positions only move forward; kConsumed means the buffer is used;
//   - kTooLarge / kNeverFits only for a frame that really is above the limit / capacity;
//   - at the end of the stream MidFrame() is true exactly when the reference has a
//     partial frame left, and every lease is either delivered or the pending one.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

#include "uring/frame_assembler.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "frame_assembler_fuzz: invariant violated: %s\n", what);
  abort();
}
#define CHECK(cond)                 \
  do {                              \
    if (!(cond)) Fail(#cond);       \
  } while (0)

struct Rng {
  uint64_t s;
  uint32_t Next() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(s >> 33);
  }
  uint32_t Below(uint32_t n) { return n == 0 ? 0 : Next() % n; }
};

struct RefFrame {
  uint32_t length;
  const uint8_t* body;  // inside the input
};

// The trivial reference: u32 LE length + body, until the bytes run out.
struct Reference {
  std::vector<RefFrame> frames;
  size_t partial_bytes = 0;  // bytes of an incomplete frame at the end
};

Reference Parse(const uint8_t* p, size_t n) {
  Reference r;
  size_t pos = 0;
  while (n - pos >= 4) {
    uint32_t length;
    memcpy(&length, p + pos, 4);
    if (n - pos - 4 < length) break;
    r.frames.push_back(RefFrame{length, p + pos + 4});
    pos += 4 + size_t{length};
  }
  r.partial_bytes = n - pos;
  return r;
}

// The frame after the delivered ones, as the reference sees its header (for the
// too-large checks): its announced length, or -1 when its header is incomplete.
int64_t NextLength(const uint8_t* p, size_t n, const Reference& r, size_t delivered) {
  size_t pos = 0;
  for (size_t i = 0; i < delivered; ++i) pos += 4 + size_t{r.frames[i].length};
  if (n - pos < 4) return -1;
  uint32_t length;
  memcpy(&length, p + pos, 4);
  return length;
}

struct Lease {
  uint8_t* p;
  size_t size;
};

class FakeHooks final : public crdma::FrameHooks {
 public:
  FakeHooks(const Reference& ref, Rng& rng, size_t capacity, uint32_t fail_rate)
      : ref_(ref), rng_(rng), capacity_(capacity), fail_rate_(fail_rate) {}

  ~FakeHooks() override {
    for (auto& [h, l] : leases_) free(l.p);
  }

  void SetBuffer(const uint8_t* b, size_t n) {
    buffer_ = b;
    n_ = n;
  }

  void OnView(size_t pos, uint32_t length) override {
    CHECK(open_);
    CHECK(pos <= n_ && length <= n_ - pos);
    Deliver(buffer_ + pos, length);
  }

  uint8_t* AllocateLease(size_t bytes, int64_t* handle) override {
    CHECK(open_);
    CHECK(bytes >= 4 && bytes <= capacity_);
    CHECK(leases_.empty());  // one frame at a time is reassembled per connection
    if (force_success_ == 0 && (rng_.Below(256) < fail_rate_ || used_ + bytes > capacity_)) {
      ++stalls_;
      return nullptr;
    }
    uint8_t* p = static_cast<uint8_t*>(malloc(bytes));
    CHECK(p != nullptr);
    *handle = next_handle_++;
    leases_[*handle] = Lease{p, bytes};
    used_ += bytes;
    if (force_success_ > 0) --force_success_;
    return p;
  }

  void OnLease(int64_t handle, uint32_t length) override {
    CHECK(open_);
    auto it = leases_.find(handle);
    CHECK(it != leases_.end());
    CHECK(it->second.size == size_t{length} + 4);
    CHECK(crdma::LoadLe32(it->second.p) == length);
    Deliver(it->second.p + 4, length);
    used_ -= it->second.size;
    free(it->second.p);
    leases_.erase(it);
  }

  bool Open() override {
    if (open_ && close_at_ >= 0 && static_cast<int64_t>(delivered_) >= close_at_) open_ = false;
    return open_;
  }

  void Deliver(const uint8_t* body, uint32_t length) {
    CHECK(delivered_ < ref_.frames.size());
    const RefFrame& want = ref_.frames[delivered_];
    CHECK(want.length == length);
    CHECK(length == 0 || memcmp(want.body, body, length) == 0);
    ++delivered_;
  }

  // After a stall: let the next allocation through (the engine resumes when memory is back).
  void MemoryBack() { force_success_ = 1; }
  void CloseAfter(int64_t frames) { close_at_ = frames; }

  const std::map<int64_t, Lease>& leases() const { return leases_; }
  void FreeLease(int64_t handle) {
    auto it = leases_.find(handle);
    CHECK(it != leases_.end());
    used_ -= it->second.size;
    free(it->second.p);
    leases_.erase(it);
  }
  size_t delivered() const { return delivered_; }
  bool open() const { return open_; }

 private:
  const Reference& ref_;
  Rng& rng_;
  size_t capacity_;
  uint32_t fail_rate_;
  const uint8_t* buffer_ = nullptr;
  size_t n_ = 0;
  std::map<int64_t, Lease> leases_;
  size_t used_ = 0;
  int64_t next_handle_ = 1;
  size_t delivered_ = 0;
  uint32_t force_success_ = 0;
  uint64_t stalls_ = 0;
  int64_t close_at_ = -1;
  bool open_ = true;
};

constexpr uint32_t kMaxFrame[] = {0, 1, 7, 64, 1000, 4096, 65536, 1u << 24, 0xFFFFFFFFu};
constexpr size_t kCapacity[] = {4, 8, 64, 300, 4096, 70000, size_t{1} << 26};  // 64 MiB: the default lease area
constexpr size_t kBufferMax[] = {1, 2, 3, 5, 16, 64, 256, 4096};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  Rng rng{0};
  memcpy(&rng.s, data, 4);
  uint32_t max_frame = kMaxFrame[data[4] % (sizeof kMaxFrame / sizeof kMaxFrame[0])];
  size_t capacity = kCapacity[data[5] % (sizeof kCapacity / sizeof kCapacity[0])];
  uint32_t fail_rate = data[6];
  size_t buffer_max = kBufferMax[data[7] % (sizeof kBufferMax / sizeof kBufferMax[0])];
  const uint8_t* stream = data + 8;
  size_t n = size - 8;

  Reference ref = Parse(stream, n);
  FakeHooks hooks(ref, rng, capacity, fail_rate);
  if (rng.Below(8) == 0) hooks.CloseAfter(rng.Below(static_cast<uint32_t>(ref.frames.size()) + 1));
  crdma::FrameAssembler assembler;

  size_t offset = 0;
  bool ended = false;  // the connection was closed (too large, never fits, owner closed)
  while (offset < n && !ended) {
    size_t chunk = 1 + rng.Below(static_cast<uint32_t>(buffer_max));
    if (chunk > n - offset) chunk = n - offset;
    // A buffer of exactly `chunk` bytes: reading past it is a heap overflow.
    uint8_t* buffer = static_cast<uint8_t*>(malloc(chunk));
    CHECK(buffer != nullptr);
    memcpy(buffer, stream + offset, chunk);
    hooks.SetBuffer(buffer, chunk);
    size_t pos = 0;
    for (int attempts = 0;; ++attempts) {
      size_t before = pos;
      crdma::ParseResult result = assembler.Consume(buffer, chunk, &pos, max_frame, capacity, hooks);
      CHECK(pos >= before && pos <= chunk);
      if (result == crdma::ParseResult::kConsumed) {
        CHECK(pos == chunk);
        break;
      }
      if (result == crdma::ParseResult::kStalled) {
        CHECK(assembler.MidFrame());
        CHECK(attempts == 0);  // only the buffer's last frame needs a lease: with memory back it goes through
        hooks.MemoryBack();
        continue;
      }
      if (result == crdma::ParseResult::kClosed) {
        CHECK(!hooks.open());
      } else {
        int64_t next = NextLength(stream, n, ref, hooks.delivered());
        CHECK(next >= 0);
        if (result == crdma::ParseResult::kTooLarge) CHECK(static_cast<uint64_t>(next) > max_frame);
        if (result == crdma::ParseResult::kNeverFits) {
          CHECK(static_cast<uint64_t>(next) <= max_frame);
          CHECK(static_cast<uint64_t>(next) + 4 > capacity);
        }
      }
      ended = true;
      break;
    }
    free(buffer);
    offset += chunk;
  }

  if (!ended) {
    // The whole stream went through: every complete frame was delivered, and the
    // assembler is mid-frame exactly when bytes of an incomplete frame are left.
    CHECK(hooks.delivered() == ref.frames.size());
    CHECK(assembler.MidFrame() == (ref.partial_bytes > 0));
  }
  // No lease is lost: the only one still out is the frame being filled, which the owner
  // frees when the connection dies (the engine's BeginClose / MaybeDestroy).
  int64_t pending = assembler.pending_lease();
  CHECK(hooks.leases().size() == (pending >= 0 ? 1u : 0u));
  if (pending >= 0) {
    hooks.FreeLease(pending);
    assembler.DropPendingLease();
    CHECK(assembler.pending_lease() == -1);
  }
  return 0;
}
