// ShmEngine's data path (see shm_engine.h and shm_engine.cc): Reap() reads every open
// connection's incoming ring (frames reported in place), held frames keep their ring
// space until released, Send()/the in-place reservation write the outgoing ring, Flush()
// publishes heads and tails once per loop turn and wakes a sleeping peer.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/connection_lookup.h"
#include "common/cpu_relax.h"
#include "common/sys_error.h"
#include "shm/shm_engine.h"

namespace crdma::shm {
namespace {
// Records read from one connection per Reap, so one busy peer cannot starve the others.
constexpr int kReadBudget = 256;
}  // namespace

int ShmEngine::ReadRing(ShmConnection& c, EventSink& sink) {
  int seen = 0;
  if (c.pending_err != 0) {
    Fail(c, c.pending_err, c.pending_reason, sink);
    return 1;
  }
  const bool drain = c.peer_gone;
  while (c.state == ShmConnection::State::kOpen || c.state == ShmConnection::State::kClosing) {
    if (!drain && seen >= kReadBudget) return seen;
    Record r = c.reader->Next();
    if (r.kind == Record::kNone) break;
    if (r.kind == Record::kCorrupt) {
      stats_.protocol_errors++;
      Fail(c, EPROTO, kReasonProtocolError, sink);
      return seen + 1;
    }
    if (r.kind == Record::kClosed) {
      Fail(c, 0, kReasonNone, sink);  // a clean end
      return seen + 1;
    }
    ++seen;
    stats_.frames_in++;
    stats_.bytes_in += r.length;
    c.delivered.push_back({r.offset, r.end, false});
    sink.Push({kEventFrameView, static_cast<int32_t>(c.id), static_cast<int32_t>(r.offset),
               static_cast<int32_t>(r.length)});
  }
  if (c.peer_gone && c.open()) {
    Fail(c, ECONNRESET, kReasonNone, sink);  // gone without the close record
    ++seen;
  }
  return seen;
}

int ShmEngine::Reap(EventSink& sink) {
  int seen = 0;
  if (io_ready_) ReadIo(sink);
  // Ids first: JS may close connections while a chunk of events is dispatched, and
  // connections are only destroyed in Flush, so the pointers stay valid during the scan.
  std::vector<ShmConnection*>& open = scan_;  // reused: no allocation per Reap while spinning
  open.clear();
  for (auto& [id, c] : connections_) {
    if (c->open()) open.push_back(c.get());
  }
  for (ShmConnection* c : open) {
    if (c->open()) seen += ReadRing(*c, sink);
  }
  return seen;
}

void ShmEngine::GiveBack(ShmConnection& c) {
  if (!c.reader) return;
  uint64_t tail = c.reader->committed();
  while (!c.delivered.empty() && !c.delivered.front().held) {
    tail = c.delivered.front().end;
    c.delivered.pop_front();
  }
  // With nothing outstanding, everything read (pad records included) goes back.
  if (c.delivered.empty()) tail = c.reader->read();
  if (tail != c.reader->committed()) {
    c.reader->Commit(tail);
    c.wake_due = true;
  }
}

void ShmEngine::EndBatch() {
  for (auto& [id, c] : connections_) {
    if (c->open() && !c->delivered.empty()) GiveBack(*c);
  }
}

double ShmEngine::HoldFrame(uint32_t connection, size_t offset) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return -ENOTCONN;
  for (auto d = it->second->delivered.rbegin(); d != it->second->delivered.rend(); ++d) {
    if (d->offset == offset && !d->held) {
      d->held = true;
      return static_cast<double>(d->end);
    }
  }
  // A connection that ended keeps its mapping for JS: nothing to pin.
  return it->second->open() ? -ENOENT : 0;
}

void ShmEngine::ReleaseFrame(uint32_t connection, double token) {
  auto it = connections_.find(connection);
  if (it == connections_.end() || !it->second->open()) return;
  ShmConnection& c = *it->second;
  for (Delivered& d : c.delivered) {
    if (static_cast<double>(d.end) == token && d.held) {
      d.held = false;
      break;
    }
  }
  GiveBack(c);
}

std::shared_ptr<ShmMapping> ShmEngine::TakeMapping(uint32_t connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end() || !it->second->mapping || it->second->buffer_made) return nullptr;
  it->second->buffer_made = true;
  return it->second->mapping;
}

int ShmEngine::Send(uint32_t connection, size_t lease_offset, uint32_t length) {
  auto it = connections_.find(connection);
  if (it == connections_.end() || it->second->state != ShmConnection::State::kOpen) {
    region_->FreeLease(lease_offset);
    return -ENOTCONN;
  }
  ShmConnection& c = *it->second;
  if (lease_offset < region_->recv_area_bytes() ||
      region_->leases().SizeAt(lease_offset - region_->recv_area_bytes()) < size_t{length}) {
    region_->FreeLease(lease_offset);
    return -EINVAL;
  }
  if (Align8(kRecordHeader + uint64_t{length}) > c.writer->capacity() / 2) {
    // Can never fit this ring: the frame is larger than the peer's region allows.
    region_->FreeLease(lease_offset);
    c.queued.push_back({kNoLease, length});  // reported once the frames before it left
    if (c.queued.size() == 1) SendQueued(c);
    if (c.pending_err != 0) WakeSoon();
    return 0;
  }
  c.queued.push_back({lease_offset, length});
  c.unsent_bytes += length;
  stats_.frames_out++;
  stats_.bytes_out += length;
  if (c.queued.size() == 1) SendQueued(c);
  if (c.pending_err != 0) WakeSoon();
  return 0;
}

double ShmEngine::ReserveInPlace(uint32_t connection, uint32_t length) {
  auto it = connections_.find(connection);
  if (it == connections_.end() || it->second->state != ShmConnection::State::kOpen) return -1;
  ShmConnection& c = *it->second;
  // Frames waiting go first (they were sent before); one record open at a time.
  if (!c.queued.empty() || c.pending_err != 0 || c.writer->open()) return -1;
  uint64_t body;
  // Past the hot span the reader's tail decides whether the record goes back to 0.
  const bool refreshed = c.writer->PastHotSpan();
  if (refreshed && !RefreshTail(c)) {
    WakeSoon();  // JS hears of the failure at the next Reap
    return -1;
  }
  if (!c.writer->Open(length, &body)) {
    if (refreshed) return -1;
    if (!RefreshTail(c)) {
      WakeSoon();
      return -1;
    }
    if (!c.writer->Open(length, &body)) return -1;
  }
  c.in_place = RingOf(c.mapping->base(), c.writer->capacity(), c.side).data_offset + body;
  c.in_place_length = length;
  return static_cast<double>(c.in_place);
}

int ShmEngine::CommitInPlace(uint32_t connection, size_t offset, uint32_t length) {
  auto it = connections_.find(connection);
  if (it == connections_.end() || it->second->state != ShmConnection::State::kOpen) return -ENOTCONN;
  ShmConnection& c = *it->second;
  if (!c.writer->open() || c.in_place != offset || length > c.in_place_length) return -EINVAL;
  stats_.frames_out++;
  stats_.bytes_out += length;
  if (c.queued.empty()) {
    c.writer->Commit(length);
    stats_.frames_in_place++;
    c.written_bytes += length;
    return 0;
  }
  // Frames sent while this one was being written wait in the queue and must leave first:
  // this one moves behind them, through a lease (a copy, and the usual one into the ring).
  int64_t lease = region_->AllocateLease(std::max<size_t>(length, 1));
  if (lease < 0) {
    c.writer->Abandon();
    c.pending_err = ENOBUFS;  // reported at the next Reap
    c.pending_reason = kReasonRegionFull;
    WakeSoon();
    return 0;
  }
  std::memcpy(region_->base() + lease, c.mapping->base() + offset, length);
  stats_.send_copies++;
  c.writer->Abandon();
  c.queued.push_back({static_cast<size_t>(lease), length});
  c.unsent_bytes += length;
  SendQueued(c);
  return 0;
}

void ShmEngine::AbandonInPlace(uint32_t connection, size_t offset) {
  auto it = connections_.find(connection);
  if (it == connections_.end() || !it->second->open()) return;
  ShmConnection& c = *it->second;
  if (!c.writer->open() || c.in_place != offset) return;
  c.writer->Abandon();
  SendQueued(c);  // frames sent behind it may go now
}

void ShmEngine::SendQueued(ShmConnection& c) {
  // An open record is being written by JS: what was queued after it waits (CommitInPlace).
  if (c.queued.empty() || !c.open() || c.pending_err != 0 || c.writer->open()) return;
  bool refreshed = false;
  while (!c.queued.empty()) {
    QueuedSend q = c.queued.front();
    if (q.lease_offset == kNoLease) {
      c.queued.pop_front();
      c.pending_err = EMSGSIZE;  // larger than this connection's ring: JS hears it at the next Reap
      c.pending_reason = kReasonFrameTooLarge;
      return;
    }
    // Past the hot span the reader's tail decides whether the record goes back to 0.
    if (!refreshed && c.writer->PastHotSpan()) {
      if (!RefreshTail(c)) return;
      refreshed = true;
    }
    const uint8_t* body = region_->base() + q.lease_offset;
    if (!c.writer->Write(body, q.length)) {
      if (refreshed) break;
      if (!RefreshTail(c)) return;
      refreshed = true;
      continue;
    }
    stats_.send_copies++;
    c.queued.pop_front();
    c.unsent_bytes -= q.length;
    c.written_bytes += q.length;
    region_->FreeLease(q.lease_offset);
  }
}

bool ShmEngine::RefreshTail(ShmConnection& c) {
  if (c.writer->Refresh()) return true;
  c.pending_err = EPROTO;  // the peer's tail is out of bounds: reported at the next Reap
  c.pending_reason = kReasonProtocolError;
  stats_.protocol_errors++;
  return false;
}

void ShmEngine::WakePeerIfAsleep(ShmConnection& c) {
  const bool published = c.writer->Publish();
  const bool freed = c.wake_due;
  if (!published && !freed) return;
  c.wake_due = false;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // A tail alone wakes the peer only when its frames wait for room: a reader returning
  // each frame's space would otherwise write the eventfd once per frame it read.
  const uint32_t word = c.peer_sleep_word()->load(std::memory_order_relaxed);  // once
  if ((published && WakeForHead(word)) || (freed && WakeForTail(word))) {
    uint64_t one = 1;
    if (write(c.peer_wake.get(), &one, sizeof one) > 0) stats_.wakes_sent++;
  }
}

void ShmEngine::FlushSends() {
  for (auto& [id, c] : connections_) {
    if (!c->open()) continue;
    SendQueued(*c);
    WakePeerIfAsleep(*c);
  }
}

int ShmEngine::Flush() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    ShmConnection& c = *it->second;
    if (c.sleeping != 0) {
      c.my_sleep_word()->store(0, std::memory_order_relaxed);
      c.sleeping = 0;
    }
    if (c.open()) {
      SendQueued(c);
      // A record still open when JS closed the channel is never sent (send() throws then).
      if (c.state == ShmConnection::State::kClosing && c.writer->open()) {
        c.writer->Abandon();
        SendQueued(c);
      }
      if (c.state == ShmConnection::State::kClosing && c.queued.empty() && !c.peer_gone) {
        c.writer->Refresh();
        if (c.writer->Write(nullptr, kCloseMarker)) c.state = ShmConnection::State::kDead;
      }
      if (c.mapping && c.writer) WakePeerIfAsleep(c);
    }
    if (c.state == ShmConnection::State::kDead) {
      it = connections_.erase(it);  // closes the socket last (shm_connection.h)
    } else {
      ++it;
    }
  }
  return 0;
}

bool ShmEngine::CompletionsReady() {
  for (auto& [id, c] : connections_) {
    if (!c->open()) continue;
    const uint32_t word = c->waits_for_room() ? kSleepForAll : kSleepForFrames;
    if (c->sleeping != word) {
      c->my_sleep_word()->store(word, std::memory_order_relaxed);
      c->sleeping = word;
    }
  }
  // Pairs with the peer's fence between publishing and reading our sleep word.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  bool ready = io_ready_;
  for (auto& [id, c] : connections_) {
    if (!c->open()) continue;
    if (c->peer_gone || c->reader->Pending()) ready = true;
    if (c->pending_err != 0) ready = true;
    if (!c->queued.empty()) {
      SendQueued(*c);  // space the peer freed since the last flush
      if (c->queued.empty()) ready = true;
    } else if (c->state == ShmConnection::State::kClosing && !c->peer_gone) {
      // The close record waits for room (Flush writes it): room freed since then?
      if (c->writer->Refresh() && c->writer->Room(kRecordHeader)) ready = true;
    }
  }
  return ready;
}

void ShmEngine::WakeSoon() {
  uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof one);
}

void ShmEngine::SpinStep() { CpuRelax(); }

bool ShmEngine::SendBacklog(uint32_t connection, double* unsent, double* written) const {
  return ReadSendBacklog(FindOpen(connection), unsent, written);
}

}  // namespace crdma::shm
