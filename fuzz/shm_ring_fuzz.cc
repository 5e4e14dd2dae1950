// libFuzzer target over crdma::shm::RingReader / RingWriter (native/shm/shm_ring.cc): the
// shm:// ring whose shared memory a hostile peer can write at any moment. Owns only the
// harness: a region in a heap block of exactly its size (ASan flags any access past it)
// and a script of operations taken from the input.
//
// Input: 1 config byte (max frame selector), then 4-byte operations
//   [op][a][b][c]:
//   0 legit write of a frame of length a*256+b (our writer, ring 0) and publish
//   1 hostile: store a u64 made of (a,b,c) bytes into ring 1's head, relative or absolute
//   2 hostile: store a u32 made of (a,b,c) at a ring-1 data position (a length word, a body)
//   3 hostile: store a u64 into ring 0's tail (our writer must refuse what is out of bounds)
//   4 read up to c records from ring 1 (checking each), then commit
//   5 a well-formed peer record into ring 1 (length a*256+b), published
//   6 in place (ring 0): open a record for a*256+b bytes, fill it, then by c % 3 commit
//     it whole, commit a shorter frame, or abandon it
// Invariants: a frame the reader reports lies inside ring 1's data, its length is at most
// the reader's limit, the read count only grows and never passes the published head the
// reader saw; the writer never counts more bytes in flight than the ring holds; an open
// record lies inside ring 0's data, nothing else is written and nothing of it is published
// while it is open, and an abandoned one leaves the writer's count where it was.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "shm/shm_ring.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "shm_ring_fuzz: invariant violated: %s\n", what);
  abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) Fail(#cond); \
  } while (0)

constexpr uint64_t kCap = crdma::shm::kMinCapacity;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crdma::shm;
  if (size < 1) return 0;
  const uint32_t max_frame = 8u << (data[0] % 14);  // 8 B .. 64 KiB
  ++data;
  --size;
  const size_t bytes = RegionBytes(kCap);
  std::unique_ptr<uint8_t[]> region(new uint8_t[bytes]());
  uint8_t* base = region.get();
  RingWriter ours(RingOf(base, kCap, 0));
  RingReader reader(RingOf(base, kCap, 1), max_frame);
  RingView theirs = RingOf(base, kCap, 1);
  uint64_t their_head = 0;  // a well-formed peer's own count (op 5)
  std::vector<uint8_t> body(65536, 0xAB);
  const size_t data_begin = theirs.data_offset, data_end = theirs.data_offset + kCap;

  for (size_t i = 0; i + 4 <= size; i += 4) {
    const uint8_t op = data[i] % 7, a = data[i + 1], b = data[i + 2], c = data[i + 3];
    const uint32_t length = uint32_t{a} * 256 + b;
    switch (op) {
      case 0:
        if (ours.Write(body.data(), length)) ours.Publish();
        break;
      case 1: {
        uint64_t v = (uint64_t{a} << 16) | (uint64_t{b} << 8) | c;
        uint64_t head = (c & 1) ? v * 8 : their_head + v - 0x800000;
        theirs.head->store(head, std::memory_order_release);
        break;
      }
      case 2: {
        uint64_t pos = ((uint64_t{a} << 8) | b) * 8 % kCap;
        uint32_t word = c == 0 ? kPadMarker : c == 1 ? kCloseMarker : uint32_t{c} * 997;
        reinterpret_cast<std::atomic<uint32_t>*>(theirs.data + pos)->store(word);
        break;
      }
      case 3: {
        uint64_t v = (uint64_t{a} << 16) | (uint64_t{b} << 8) | c;
        RingView mine = RingOf(base, kCap, 0);
        mine.tail->store(v * 8, std::memory_order_release);
        if (ours.Refresh()) CHECK(ours.written() - v * 8 <= kCap);
        break;
      }
      case 4: {
        for (int n = 0; n <= c % 8; ++n) {
          const uint64_t before = reader.read();
          Record r = reader.Next();
          if (r.kind == Record::kNone) break;
          if (r.kind == Record::kCorrupt || r.kind == Record::kClosed) break;
          CHECK(r.length <= max_frame);
          CHECK(r.offset >= data_begin && r.offset + r.length <= data_end);
          CHECK(reader.read() > before);
          CHECK(r.end == reader.read());
          // Touch every byte of the view, as JS would: ASan flags anything outside the block.
          volatile uint8_t sum = 0;
          for (uint32_t k = 0; k < r.length; ++k) sum = sum + base[r.offset + k];
        }
        reader.Commit(reader.read());
        CHECK(reader.committed() == reader.read() || reader.read() == 0);
        break;
      }
      case 5: {
        uint64_t rec = Align8(kRecordHeader + length);
        if (rec > kCap / 2) break;
        uint64_t pos = their_head % kCap;
        if (kCap - pos < rec) {
          reinterpret_cast<std::atomic<uint32_t>*>(theirs.data + pos)->store(kPadMarker);
          their_head += kCap - pos;
          pos = 0;
        }
        reinterpret_cast<std::atomic<uint32_t>*>(theirs.data + pos)->store(length);
        their_head += rec;
        theirs.head->store(their_head, std::memory_order_release);
        break;
      }
      case 6: {
        RingView mine = RingOf(base, kCap, 0);
        const uint64_t before = ours.written();
        uint64_t at;
        if (!ours.Open(length, &at)) {
          ours.Refresh();
          break;
        }
        CHECK(at + length <= kCap);
        CHECK(!ours.Write(body.data(), 8));
        CHECK(!ours.Open(0, &at));
        ours.Publish();
        CHECK(mine.head->load(std::memory_order_relaxed) <= before);
        memset(mine.data + at, 0xCD, length);  // as JS would: ASan flags anything outside the block
        if (c % 3 == 2) {
          ours.Abandon();
          CHECK(ours.written() == before);
        } else {
          ours.Commit(c % 3 == 0 ? length : length / 2);
          CHECK(ours.written() > before);
          ours.Publish();
        }
        break;
      }
    }
  }
  return 0;
}
