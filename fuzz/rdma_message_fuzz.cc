// libFuzzer target over the RDMA message validation (native/rdma/rdma_message.cc):
// ParseRdmaMessage on an untrusted receive slot, and AddCredits on the credits a peer
// announces. Owns only the harness.
//
// Input: [u8 max_frame selector][u16 peer recv depth][u8 message count], then messages,
// each [u16 size][size bytes] (the bytes a receive completion reported). Each message is
// copied into a heap block of exactly `size` bytes, so any read past what the device
// wrote is an ASan report. Invariants: kOk only for a message that matches
// docs/CHANNELS.md §2.1 exactly (header length = body bytes, reserved 0, the body size
// of its kind, lengths within max_frame_bytes, READ length > 0), with the fields read
// back from the right offsets; credits never exceed the peer's receive depth and never
// overflow.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "rdma/rdma_message.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "rdma_message_fuzz: invariant violated: %s\n", what);
  abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) Fail(#cond); \
  } while (0)

constexpr uint32_t kMaxFrame[] = {0, 1, 16, 4096, 65536, 32u << 20, 0xFFFFFFFFu};

uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  uint32_t max_frame = kMaxFrame[data[0] % (sizeof kMaxFrame / sizeof kMaxFrame[0])];
  uint32_t depth = uint32_t{data[1]} | uint32_t{data[2]} << 8;
  int32_t credits = static_cast<int32_t>(depth / 2);
  size_t pos = 4;
  while (size - pos >= 2) {
    size_t n = size_t{data[pos]} | size_t{data[pos + 1]} << 8;
    pos += 2;
    if (n > size - pos) n = size - pos;
    uint8_t* slot = static_cast<uint8_t*>(malloc(n == 0 ? 1 : n));
    CHECK(slot != nullptr);
    if (n) memcpy(slot, data + pos, n);
    pos += n;

    crdma::RdmaMessage m;
    crdma::RdmaParse r = crdma::ParseRdmaMessage(slot, static_cast<uint32_t>(n), max_frame, &m);
    if (n < crdma::kRdmaHeaderBytes) {
      CHECK(r == crdma::RdmaParse::kProtocolError);
    } else {
      uint32_t length = Le32(slot);
      uint16_t hdr_credits = static_cast<uint16_t>(slot[4] | slot[5] << 8);
      uint8_t kind = slot[6];
      uint8_t reserved = slot[7];
      uint32_t body = static_cast<uint32_t>(n) - crdma::kRdmaHeaderBytes;
      if (r == crdma::RdmaParse::kOk) {
        CHECK(reserved == 0 && length == body);
        CHECK(m.kind == kind && m.credits == hdr_credits);
        switch (kind) {
          case crdma::kData:
            CHECK(m.length == length && length <= max_frame);
            break;
          case crdma::kReadRequest:
            CHECK(body == 20);
            CHECK(m.read.rkey == Le32(slot + 16) && m.read.length == Le32(slot + 20) && m.read.token == Le32(slot + 24));
            CHECK(m.read.length > 0 && m.read.length <= max_frame && m.length == m.read.length);
            break;
          case crdma::kReadDone:
            CHECK(body == 4 && m.token == Le32(slot + 8));
            break;
          case crdma::kCredit:
            CHECK(body == 0);
            break;
          default:
            Fail("kOk for an unknown kind");
        }
        int32_t before = credits;
        if (crdma::AddCredits(&credits, m.credits, depth)) {
          CHECK(int64_t{credits} == int64_t{before} + m.credits && credits <= static_cast<int64_t>(depth));
        } else {
          CHECK(credits == before && int64_t{before} + m.credits > int64_t{depth});
        }
        // The engine spends credits as it sends: model one send per accepted message.
        if (credits > 0) --credits;
      } else if (r == crdma::RdmaParse::kTooLarge) {
        CHECK(reserved == 0 && length == body);
        CHECK(kind == crdma::kData || kind == crdma::kReadRequest);
        uint32_t announced = kind == crdma::kData ? length : (body == 20 ? Le32(slot + 20) : 0);
        CHECK(announced > max_frame);
      } else {
        bool well_formed = reserved == 0 && length == body &&
                           ((kind == crdma::kData && length <= max_frame) ||
                            (kind == crdma::kReadRequest && body == 20 && Le32(slot + 20) - 1 < max_frame) ||
                            (kind == crdma::kReadDone && body == 4) || (kind == crdma::kCredit && body == 0));
        CHECK(!well_formed);
      }
    }
    free(slot);
  }
  return 0;
}
