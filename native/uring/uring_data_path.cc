// UringEngine's receive path and pump (see uring_engine.h): Reap() takes completions and
// dispatches them; multishot recv completions become events (received frames in place or
// reassembled into leases, peers that ended), with back-pressure when no lease is free
// (the backlog, ResumeStalled) and re-arms when provided buffers come back (Flush());
// receive slots go back to the kernel's buffer ring when JS is done with them
// (EndBatch). uring_send_path.cc is the send half.
#include <cerrno>
#include <vector>

#include "common/cpu_relax.h"
#include "uring/uring_engine.h"

namespace crdma {
namespace {
// Completions one Reap() takes before returning to the pump (which checks its time cap).
constexpr int kMaxCompletionsPerReap = 64;
}  // namespace

void UringEngine::ArmRecv(UringConnection& c) {
  // Not when paused for back-pressure: ResumeStalled() re-arms once its backlog drained;
  // armed earlier, it would take the slots other connections need into its backlog.
  if (!CanArm(c.receive)) return;
  if (buffers_.free_in_kernel() == 0) {  // would end at once with ENOBUFS: wait for slots
    MarkStarved(c);
    return;
  }
  io_uring_sqe* sqe = ring_.Sqe();
  io_uring_prep_recv_multishot(sqe, c.fd.get(), nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = ProvidedBuffers::kGroup;
  io_uring_sqe_set_data64(sqe, Tag(kOpRecv, c.id));
  ++c.inflight;
  c.receive = ReceiveState::kArmed;
}

void UringEngine::MarkStarved(UringConnection& c) {
  ReceiveState before = c.receive;
  c.receive = Starve(before);
  if (before != ReceiveState::kStarved && c.receive == ReceiveState::kStarved) starved_.push_back(c.id);
}

void UringEngine::PauseRecv(UringConnection& c) {
  bool cancel = c.receive == ReceiveState::kArmed;  // armed, no cancel on its way yet
  c.receive = Pause(c.receive);
  if (!cancel) return;
  io_uring_sqe* sqe = ring_.Sqe();
  io_uring_prep_cancel64(sqe, Tag(kOpRecv, c.id), 0);
  io_uring_sqe_set_data64(sqe, Tag(kOpCancel, c.id));
}

int UringEngine::Flush() {
  DrainSendRanges();
  PrepDirtySends();
  for (uint32_t id : closing_) MaybeDestroy(id);
  closing_.clear();
  buffers_.Commit();
  if (!starved_.empty() && buffers_.free_in_kernel() > 0) {
    std::vector<uint32_t> starved;
    starved.swap(starved_);
    for (uint32_t id : starved) {
      auto it = connections_.find(id);
      // Armed, paused or ended since it was listed: a stale entry.
      if (it == connections_.end() || it->second.receive != ReceiveState::kStarved) continue;
      it->second.receive = ReceiveState::kIdle;  // listed again by ArmRecv if still starved
      UringConnection::State state = it->second.state;
      bool receives = state == UringConnection::State::kOpen || state == UringConnection::State::kLingering;
      if (receives) ArmRecv(it->second);
    }
  }
  int rc = ring_.Submit();
  if (rc > 0) stats_.submits += 1;
  return rc;
}

int UringEngine::Reap(EventSink& sink) {
  int seen = stalled_.empty() ? 0 : (ResumeStalled(sink) ? 1 : 0);
  if (ring_.TaskWorkPending()) io_uring_get_events(ring_.get());  // post completions held in task work
  io_uring_cqe* cqe;
  // Bounded: a chunk dispatched mid-reap submits (FlushSends), which lets the kernel post
  // more completions; without a bound a peer that never pauses would keep this loop (and
  // the pump's time cap behind it) from ever returning.
  int taken = 0;
  while (taken < kMaxCompletionsPerReap && io_uring_peek_cqe(ring_.get(), &cqe) == 0) {
    ++taken;
    uint64_t tag = io_uring_cqe_get_data64(cqe);
    int res = cqe->res;
    unsigned flags = cqe->flags;
    io_uring_cqe_seen(ring_.get(), cqe);
    ++seen;
    Op op = static_cast<Op>(tag >> 32);
    uint32_t id = static_cast<uint32_t>(tag);
    if (op == kOpCancel || op == kOpWake) continue;
    if (op == kOpAccept || op == kOpAcceptRetry) {
      auto it = listeners_.find(id);
      if (it == listeners_.end()) continue;
      if (op == kOpAccept) OnAccept(it->second, res, flags, sink);
      else OnAcceptRetry(it->second);
      continue;
    }
    auto it = connections_.find(id);
    if (it == connections_.end()) {
      // A buffer-carrying completion for a connection that is gone: give the slot back.
      if (flags & IORING_CQE_F_BUFFER) {
        buffers_.Consumed();
        buffers_.Recycle(static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT));
      }
      continue;
    }
    UringConnection& c = it->second;
    switch (op) {
      case kOpConnect: OnConnect(c, res, sink); break;
      case kOpRecv: OnRecv(c, res, flags, sink); break;
      case kOpSend: OnSend(c, res, sink); break;
      default: break;
    }
    MaybeDestroy(id);
  }
  return seen;
}

void UringEngine::OnRecv(UringConnection& c, int res, unsigned flags, EventSink& sink) {
  bool more = flags & IORING_CQE_F_MORE;
  bool cancelled = false;
  if (!more) {  // this multishot recv is over (ended, failed, or cancelled by us)
    --c.inflight;
    cancelled = Cancelling(c.receive);
    c.receive = RecvOver(c.receive);
  }
  if (flags & IORING_CQE_F_BUFFER) {
    buffers_.Consumed();
    uint16_t bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    if (res > 0 && c.state == UringConnection::State::kOpen) {
      stats_.recv_completions += 1;
      stats_.bytes_in += res;
      region_->PinSlot(bid);  // held while parsed (or while waiting in the backlog)
      if (!c.backlog.empty()) {
        c.backlog.push_back(UringConnection::Pending{bid, static_cast<uint32_t>(res)});
      } else {
        size_t stopped = ConsumeSlot(c, bid, static_cast<size_t>(res), 0, sink);
        if (stopped == kConsumed) {
          ReleaseSlot(bid);
        } else {
          c.backlog.push_back(UringConnection::Pending{bid, static_cast<uint32_t>(res)});
          c.backlog_pos = stopped;
          Stall(c);
          PauseRecv(c);  // stop taking bytes off the socket until memory is back
        }
      }
    } else {
      buffers_.Recycle(bid);
    }
  }
  if (c.state == UringConnection::State::kLingering) {
    LingerRecv(c, res, more);
    return;
  }
  if (c.state != UringConnection::State::kOpen) return;
  if (res == 0) {  // orderly end from the peer, after whatever data is still parked
    if (!c.backlog.empty()) c.backlog.push_back(UringConnection::Pending{UringConnection::kEndOfStream, 0});
    else HandleEndOfStream(c, sink);
    return;
  }
  if (res < 0) {
    if (res == -ECANCELED && cancelled) {
      if (c.receive == ReceiveState::kIdle) ArmRecv(c);  // the backlog drained before the cancel landed
      return;
    }
    if (res == -ENOBUFS) {
      stats_.buffer_starvations += 1;
      MarkStarved(c);  // re-armed by Flush() once slots come back (unless paused)
      return;
    }
    // On kTLS, EIO: a record that is not application data (an alert, a KeyUpdate);
    // EBADMSG: one that failed authentication (garbage, a wrong sequence number);
    // EINVAL/EMSGSIZE: a malformed record header.
    bool record = c.ktls && (res == -EIO || res == -EBADMSG || res == -EINVAL || res == -EMSGSIZE);
    Fail(c, -res, record ? kReasonTlsRecord : kReasonNone, sink);
    return;
  }
  if (!more && c.receive == ReceiveState::kIdle) ArmRecv(c);
}

void UringEngine::LingerRecv(UringConnection& c, int res, bool more) {
  // The slot went back above. The peer's FIN or an error ends the lingering.
  if (res == 0 || (res < 0 && res != -ECANCELED && res != -ENOBUFS)) {
    BeginClose(c);
    closing_.push_back(c.id);  // destroyed by Flush(), never under a running Reap()
    return;
  }
  if (res == -ENOBUFS) MarkStarved(c);
  else if (!more && c.receive == ReceiveState::kIdle) ArmRecv(c);
}

void UringEngine::HandleEndOfStream(UringConnection& c, EventSink& sink) {
  if (c.rx.MidFrame()) {
    Fail(c, ECONNRESET, kReasonPeerClosedMidFrame, sink);
    return;
  }
  // A half-close, not the end of the connection: the peer may still read our answers
  // (test/hostile/faults.test.ts). JS decides when to close; a peer that is really gone
  // shows up as an error on the next send (EPIPE / ECONNRESET).
  c.receive = ReceiveState::kEnded;
  if (!c.reported) sink.Push(Event{kEventEnded, static_cast<int32_t>(c.id), 0, 0});
}

bool UringEngine::ResumeStalled(EventSink& sink) {
  bool progressed = false;
  std::vector<uint32_t> stalled;
  stalled.swap(stalled_);
  for (uint32_t id : stalled) {
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;
    UringConnection& c = it->second;
    while (!c.backlog.empty() && c.state == UringConnection::State::kOpen) {
      UringConnection::Pending front = c.backlog.front();
      if (front.bid == UringConnection::kEndOfStream) {
        c.backlog.pop_front();
        HandleEndOfStream(c, sink);
        progressed = true;
        break;
      }
      size_t stopped = ConsumeSlot(c, front.bid, front.bytes, c.backlog_pos, sink);
      if (c.state != UringConnection::State::kOpen) break;  // closed: BeginClose released the backlog
      if (stopped != kConsumed) {
        progressed |= stopped != c.backlog_pos;
        c.backlog_pos = stopped;
        break;
      }
      progressed = true;
      c.backlog.pop_front();
      c.backlog_pos = 0;
      ReleaseSlot(front.bid);
    }
    if (c.state != UringConnection::State::kOpen) continue;  // BeginClose released the backlog
    if (!c.backlog.empty()) {
      Stall(c);
    } else {
      c.receive = Unpause(c.receive);
      ArmRecv(c);  // unless a recv is still armed (its cancel re-arms) or the peer ended
    }
  }
  return progressed;
}

void UringEngine::Stall(UringConnection& c) {
  if (!c.waits_for_share) {
    stalled_.push_back(c.id);
  } else if (!c.in_share_waiting) {
    c.in_share_waiting = true;
    share_waiting_.push_back(c.id);
  }
}

void UringEngine::WakeShareWaiters() {
  std::vector<uint32_t> waiting;
  waiting.swap(share_waiting_);
  for (uint32_t id : waiting) {
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;
    it->second.in_share_waiting = false;
    WakeShareWaiter(it->second);
  }
}

void UringEngine::WakeShareWaiter(UringConnection& c) {
  if (!c.waits_for_share) return;
  c.waits_for_share = false;
  stalled_.push_back(c.id);  // ResumeStalled() asks ReassemblyShare again
}

namespace {

// Adapts a connection's slot to FrameAssembler: views become events pinned for the
// batch, leases come from the region. A batch can end in the middle of a slot (a full
// chunk goes to JS from inside Push): the views after it belong to the next batch and
// pin the slot again, or the slot could go back to the kernel before JS saw them.
class SlotHooks final : public FrameHooks {
 public:
  SlotHooks(MemoryRegion& region, ReassemblyShare& share, UringConnection& c, uint16_t bid, EventSink& sink,
            UringEngineStats& stats, std::vector<uint16_t>& batch_pins, const uint64_t& batches_ended)
      : region_(region), share_(share), c_(c), bid_(bid), sink_(sink), stats_(stats), batch_pins_(batch_pins),
        batches_ended_(batches_ended), slot_offset_(static_cast<size_t>(region.slot(bid) - region.base())) {}

  void OnView(size_t pos, uint32_t length) override {
    if (!pinned_ || pinned_in_ != batches_ended_) {
      region_.PinSlot(bid_);
      batch_pins_.push_back(bid_);
      pinned_ = true;
      pinned_in_ = batches_ended_;
    }
    // An empty frame whose header ends a full slot sits at the next slot's start: report
    // it at this slot's last byte, so hold() pins this slot (and the offset stays in range).
    if (length == 0 && pos == region_.slot_size()) --pos;
    stats_.frames_in += 1;
    sink_.Push(Event{kEventFrameView, static_cast<int32_t>(c_.id), static_cast<int32_t>(slot_offset_ + pos),
                     static_cast<int32_t>(length)});
  }
  // A lease for a frame that straddles slots, within the connection's share
  // (reassembly_share.h); nullptr stalls the parse (waits_for_share tells why).
  uint8_t* AllocateLease(size_t bytes, int64_t* handle) override {
    ReassemblyShare::Admission admission = share_.Admit(c_.id, c_.unsent_bytes, bytes);
    c_.waits_for_share = admission == ReassemblyShare::Admission::kWait;
    if (c_.waits_for_share) return nullptr;
    *handle = region_.AllocateLease(bytes);
    if (*handle < 0) return nullptr;
    if (admission == ReassemblyShare::Admission::kOverShare) share_.Take(c_.id);
    return region_.base() + *handle;
  }
  void OnLease(int64_t handle, uint32_t length) override {
    share_returned_ |= share_.Return(c_.id);
    stats_.frames_in += 1;
    stats_.reassembled += 1;
    stats_.reassembled_bytes += length;
    sink_.Push(Event{kEventFrameLease, static_cast<int32_t>(c_.id), static_cast<int32_t>(handle + 4),
                     static_cast<int32_t>(length)});
  }
  bool Open() override { return c_.state == UringConnection::State::kOpen; }  // JS may close c mid-batch
  // True when a frame completed in the over-share place (others may wait for it).
  bool share_returned() const { return share_returned_; }

 private:
  MemoryRegion& region_;
  ReassemblyShare& share_;
  UringConnection& c_;
  uint16_t bid_;
  EventSink& sink_;
  UringEngineStats& stats_;
  std::vector<uint16_t>& batch_pins_;
  const uint64_t& batches_ended_;
  size_t slot_offset_;
  bool pinned_ = false;
  uint64_t pinned_in_ = 0;  // batches_ended_ when this slot was pinned for a batch
  bool share_returned_ = false;
};

}  // namespace

size_t UringEngine::ConsumeSlot(UringConnection& c, uint16_t bid, size_t n, size_t pos, EventSink& sink) {
  SlotHooks hooks(*region_, reassembly_, c, bid, sink, stats_, batch_pins_, batches_ended_);
  ParseResult result =
      c.rx.Consume(region_->slot(bid), n, &pos, options_.max_frame_bytes, region_->lease_area_bytes(), hooks);
  if (hooks.share_returned()) WakeShareWaiters();
  switch (result) {
    case ParseResult::kStalled:
      return pos;
    case ParseResult::kTooLarge:
      Fail(c, EMSGSIZE, kReasonFrameTooLarge, sink);
      break;
    case ParseResult::kNotProtocol:
      Fail(c, EPROTO, kReasonNotProtocol, sink);
      break;
    case ParseResult::kNeverFits:
      Fail(c, ENOBUFS, kReasonRegionFull, sink);
      break;
    default:
      break;
  }
  return kConsumed;
}

void UringEngine::WakeSoon() {
  if (io_uring_cq_ready(ring_.get()) > 0) return;  // the ring fd is readable already
  io_uring_sqe* sqe = ring_.Sqe();
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, Tag(kOpWake, 0));
  ring_.Submit();
}

void UringEngine::SpinStep() {
  if (ring_.TaskWorkPending()) io_uring_get_events(ring_.get());
  else CpuRelax();
}

void UringEngine::EndBatch() {
  stats_.batches += 1;
  for (uint16_t bid : batch_pins_) ReleaseSlot(bid);
  batch_pins_.clear();
  ++batches_ended_;
  buffers_.Commit();  // recycled slots are visible to the kernel before the next recv
}

}  // namespace crdma
