// See shm_ring.h. Every load of a peer-written word happens once per use, into a local.
#include "shm/shm_ring.h"

#include <cstring>

namespace crdma::shm {

RingView RingOf(uint8_t* base, uint64_t capacity, int ring) {
  RingView v;
  v.head = reinterpret_cast<std::atomic<uint64_t>*>(base + kLine * (1 + 2 * ring));
  v.tail = reinterpret_cast<std::atomic<uint64_t>*>(base + kLine * (2 + 2 * ring));
  v.data_offset = kControlBytes + size_t(ring) * capacity;
  v.data = base + v.data_offset;
  v.capacity = capacity;
  return v;
}

std::atomic<uint32_t>* SleepWordOf(uint8_t* base, int side) {
  return reinterpret_cast<std::atomic<uint32_t>*>(base + kLine * (5 + side));
}

Record RingReader::Next() {
  Record r;
  const uint64_t head = v_.head->load(std::memory_order_acquire);  // once
  const uint64_t avail = head - read_;
  if (avail == 0) return r;
  if (avail > v_.capacity || (avail & 7) != 0) {
    r.kind = Record::kCorrupt;
    return r;
  }
  const uint64_t pos = read_ & (v_.capacity - 1);
  const uint64_t to_end = v_.capacity - pos;
  // The length word is read once; the peer may change it afterwards, we never look again.
  const uint32_t length =
      reinterpret_cast<std::atomic<uint32_t>*>(v_.data + pos)->load(std::memory_order_relaxed);
  if (length == kPadMarker) {
    if (to_end > avail) {
      r.kind = Record::kCorrupt;
      return r;
    }
    read_ += to_end;
    return Next();  // at most once: the next record starts at position 0
  }
  if (length == kCloseMarker) {
    if (avail < kRecordHeader) r.kind = Record::kCorrupt;
    else r.kind = Record::kClosed;
    return r;
  }
  const uint64_t size = Align8(kRecordHeader + uint64_t{length});
  if (length > max_frame_ || size > to_end || size > avail) {
    r.kind = Record::kCorrupt;
    return r;
  }
  r.kind = Record::kFrame;
  r.offset = v_.data_offset + pos + kRecordHeader;
  r.length = length;
  read_ += size;
  r.end = read_;
  return r;
}

void RingReader::Commit(uint64_t tail) {
  if (tail <= tail_ || tail > read_) return;
  tail_ = tail;
  v_.tail->store(tail, std::memory_order_release);
}

bool RingWriter::Refresh() {
  const uint64_t tail = v_.tail->load(std::memory_order_acquire);  // once
  // Monotone and never beyond what we published (an open record's space is not the peer's
  // to free: after Abandon() our head goes back to where it began).
  if (tail - peer_tail_ > published_ - peer_tail_) return false;
  peer_tail_ = tail;
  return true;
}

bool RingWriter::Reserve(uint64_t bytes, uint64_t* pos) {
  const uint64_t used = head_ - peer_tail_;
  const uint64_t p = head_ & (v_.capacity - 1);
  const uint64_t to_end = v_.capacity - p;
  // Past the hot span, with the reader close behind: back to 0 (the wrap below).
  const bool rewind = p >= hot_ && used <= p / 2 && used + to_end + bytes <= v_.capacity;
  if (bytes <= to_end && !rewind) {
    if (used + bytes > v_.capacity) return false;
    *pos = p;
    return true;
  }
  if (used + to_end + bytes > v_.capacity) return false;
  reinterpret_cast<std::atomic<uint32_t>*>(v_.data + p)->store(kPadMarker, std::memory_order_relaxed);
  head_ += to_end;
  *pos = 0;
  return true;
}

uint64_t RingWriter::Fits(uint32_t length) const {
  const uint64_t size = Align8(kRecordHeader + uint64_t{length});
  return size > v_.capacity / 2 ? 0 : size;
}

bool RingWriter::Write(const uint8_t* body, uint32_t length) {
  if (open_) return false;
  const bool close = body == nullptr && length == kCloseMarker;
  const uint64_t size = close ? kRecordHeader : Fits(length);
  if (size == 0) return false;
  uint64_t pos;
  if (!Reserve(size, &pos)) return false;
  uint8_t* at = v_.data + pos;
  if (!close && length > 0) std::memcpy(at + kRecordHeader, body, length);
  reinterpret_cast<std::atomic<uint32_t>*>(at)->store(length, std::memory_order_relaxed);
  head_ += size;
  return true;
}

bool RingWriter::Open(uint32_t length, uint64_t* body) {
  const uint64_t size = Fits(length);
  if (open_ || size == 0) return false;
  const uint64_t from = head_;
  uint64_t pos;
  if (!Reserve(size, &pos)) return false;
  open_ = true;
  open_from_ = from;
  open_record_ = head_;
  open_size_ = size;
  head_ += size;
  *body = pos + kRecordHeader;
  return true;
}

void RingWriter::Commit(uint32_t length) {
  if (!open_) return;
  const uint64_t size = Align8(kRecordHeader + uint64_t{length});
  if (size > open_size_) return;
  // Our own count, not a peer's word: the position is where Open() put the record.
  uint8_t* at = v_.data + (open_record_ & (v_.capacity - 1));
  reinterpret_cast<std::atomic<uint32_t>*>(at)->store(length, std::memory_order_relaxed);
  head_ = open_record_ + size;  // a shorter frame gives the rest back (nothing follows it)
  open_ = false;
}

void RingWriter::Abandon() {
  if (!open_) return;
  head_ = open_from_;
  open_ = false;
}

bool RingWriter::Publish() {
  const uint64_t visible = open_ ? open_from_ : head_;
  if (visible == published_) return false;
  published_ = visible;
  v_.head->store(visible, std::memory_order_release);
  return true;
}

}  // namespace crdma::shm
