// ShmRing: the shared-memory layout of one shm:// connection and the two ends of its
// single-producer/single-consumer rings (docs/CHANNELS.md §5). Plain C++ (no napi.h), so
// the fuzz target (fuzz/shm_ring_fuzz.cc) drives the reader against a hostile writer.
//
//   page 0: control words, one cache line each
//     [ring 0 head][ring 0 tail][ring 1 head][ring 1 tail][side 0 sleep word][side 1 sleep word]
//   then ring 0's bytes (side 0 -> side 1), then ring 1's bytes (side 1 -> side 0)
//
// A record is [u32 length][u32 reserved][body], padded to 8 bytes, never wrapping: when
// the run to the ring's end is too short, the writer puts a pad marker there and starts
// at 0. Heads and tails are byte counts that only grow (position = count % capacity).
//
// The peer is untrusted memory: it can write anything at any moment. Our own indices live
// in this process (never read back from the region); every word the peer writes is read
// once (an atomic load into a local), checked, and the local is what is used.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace crdma::shm {

constexpr size_t kControlBytes = 4096;
constexpr size_t kLine = 64;
constexpr size_t kRecordHeader = 8;
constexpr uint32_t kPadMarker = 0xFFFFFFFFu;    // rest of the ring up to its end is skipped
constexpr uint32_t kCloseMarker = 0xFFFFFFFEu;  // the writer closed cleanly: nothing follows
constexpr uint64_t kMinCapacity = 64 * 1024;
constexpr uint64_t kMaxCapacity = 1ull << 30;
constexpr uint64_t kHotSpan = 1ull << 20;  // RingWriter's (see there)

inline uint64_t Align8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }
// The region's size for rings of `capacity` bytes each.
inline size_t RegionBytes(uint64_t capacity) { return kControlBytes + 2 * capacity; }
inline bool ValidCapacity(uint64_t c) { return c >= kMinCapacity && c <= kMaxCapacity && (c & (c - 1)) == 0; }

// Where each word and ring lives, for side `side` (0 = the server, 1 = the client).
struct RingView {
  std::atomic<uint64_t>* head;  // written by the producer
  std::atomic<uint64_t>* tail;  // written by the consumer
  uint8_t* data;
  uint64_t capacity;
  size_t data_offset;  // of data, from the region's base
};
RingView RingOf(uint8_t* base, uint64_t capacity, int ring);
std::atomic<uint32_t>* SleepWordOf(uint8_t* base, int side);

// A sleep word's values: why its side sleeps, so a peer writes the eventfd only for news
// the side waits for. 1 is what version-1 peers store (wake me for anything); any value
// but 0 and kSleepForFrames counts as that.
constexpr uint32_t kSleepForAll = 1;     // wake me for a head or a tail: my frames wait for room
constexpr uint32_t kSleepForFrames = 2;  // wake me for a head only (new records), not a tail
inline bool WakeForHead(uint32_t word) { return word != 0; }
inline bool WakeForTail(uint32_t word) { return word != 0 && word != kSleepForFrames; }

// One received record, reported by RingReader::Next.
struct Record {
  enum Kind { kNone, kFrame, kClosed, kCorrupt } kind = kNone;
  size_t offset = 0;  // of the body, from the region's base
  uint32_t length = 0;
  uint64_t end = 0;  // the read count just past this record
};

// The consumer end. `read` runs ahead of `tail` while JS looks at frames in place;
// Commit(n) publishes a tail (never beyond what was read).
class RingReader {
 public:
  RingReader(RingView view, uint32_t max_frame) : v_(view), max_frame_(max_frame) {}
  // The next record, or kNone when the ring is empty. kCorrupt: the peer broke the
  // protocol (an index or length out of bounds); the connection must end.
  Record Next();
  // True when the peer published more than we read (one load; checked by Next()).
  bool Pending() const { return v_.head->load(std::memory_order_acquire) != read_; }
  void Commit(uint64_t tail);
  uint64_t read() const { return read_; }
  uint64_t committed() const { return tail_; }

 private:
  RingView v_;
  uint32_t max_frame_;
  uint64_t read_ = 0;
  uint64_t tail_ = 0;
};

// The producer end. Write() copies one frame in and returns false when it does not fit
// now; Publish() makes what was written visible.
//
// Hot span: past the ring's first kHotSpan bytes (a quarter of a smaller ring), a record
// goes back to position 0 (a pad marker skips the rest) as soon as the reader left room
// there and is at most half that far behind. A reader that keeps up is thus written over
// the same first bytes again and again, which stay in the caches, instead of the whole
// ring: a ring larger than what the caches keep turns every record into a copy to DRAM
// (a 64 KiB memcpy into a shared 8 MiB ring: ~3 us while it stays cached, ~10 us beyond).
// A reader far behind still has the whole ring.
//
// In place: Open() reserves one record for a frame of at most `length` bytes that the
// caller writes itself (the body's position is returned); Commit() stores its real
// length, Abandon() gives the space back. While a record is open nothing else is written
// (Write() refuses) and Publish() stops in front of it, so both are a move of our own
// head: no skip record ever reaches the peer.
class RingWriter {
 public:
  explicit RingWriter(RingView view) : v_(view), hot_(view.capacity / 4 < kHotSpan ? view.capacity / 4 : kHotSpan) {}
  // True when the next record would go past the hot span: Refresh() first, so the
  // writer sees whether the reader left room at position 0.
  bool PastHotSpan() const { return (head_ & (v_.capacity - 1)) >= hot_; }
  // Reads the peer's tail once; false when it is out of bounds, before the last one or
  // beyond what we published (the connection must end).
  bool Refresh();
  // Copies `length` bytes of `body` in as one record (or the close marker when body is
  // null and length is kCloseMarker). Call Refresh() first to see freed space.
  bool Write(const uint8_t* body, uint32_t length);
  // Reserves a record for up to `length` body bytes; false when it does not fit now (or a
  // record is open already). `*body` is the body's position in the ring's data.
  bool Open(uint32_t length, uint64_t* body);
  // The open record becomes a frame of `length` bytes (at most what Open() reserved).
  void Commit(uint32_t length);
  void Abandon();  // the open record is dropped; its space is free again
  bool open() const { return open_; }
  bool Publish();  // true when there was something new
  // True when a record of `bytes` (a multiple of 8) fits behind what was written, as far
  // as the last Refresh() knows; for the close record, which never wraps.
  bool Room(uint64_t bytes) const { return head_ - peer_tail_ + bytes <= v_.capacity; }
  uint64_t written() const { return head_; }
  uint64_t capacity() const { return v_.capacity; }

 private:
  bool Reserve(uint64_t bytes, uint64_t* pos);
  uint64_t Fits(uint32_t length) const;  // the record's size, or 0 when over half a ring
  RingView v_;
  uint64_t hot_;            // the hot span's bytes
  uint64_t head_ = 0;       // ours
  uint64_t published_ = 0;  // last head stored into the region
  uint64_t peer_tail_ = 0;  // last checked value of the peer's tail
  bool open_ = false;
  uint64_t open_from_ = 0;    // head_ before Open() (a pad it wrote is dropped with it)
  uint64_t open_record_ = 0;  // count where the open record's header is
  uint64_t open_size_ = 0;    // its reserved size
};

}  // namespace crdma::shm
