// RdmaEngine's data path, incoming half (see rdma_engine.h): Reap() reads the connection
// manager's events and the devices' completions and async events; received messages
// become frames for JS in arrival order (a READ ahead of later SENDs holds them back),
// READ_REQUESTs start READs into leases, READ_DONEs revoke the key of an exported lease.
#include <cstring>

#include "common/fault_injection.h"
#include "rdma/rdma_engine.h"
#include "rdma/rdma_message.h"

namespace crdma {

int RdmaEngine::Reap(EventSink& sink) {
  int seen = 0;
  if (!waiting_for_leases_.empty()) {  // leases may have come back since the last reap
    std::vector<uint32_t> waiting;
    waiting.swap(waiting_for_leases_);
    for (uint32_t id : waiting) {
      auto it = connections_.find(id);
      if (it == connections_.end() || it->second.pending_reads.empty()) continue;
      size_t before = it->second.pending_reads.size();
      StartReads(it->second, sink);
      if (it->second.pending_reads.size() != before) ++seen;
      if (!it->second.pending_reads.empty()) waiting_for_leases_.push_back(id);
    }
  }
  if (cm_signaled_) {
    cm_signaled_ = false;
    rdma_cm_event* event = nullptr;
    while (api_.get_cm_event(cm_channel_.get(), &event) == 0) {
      HandleCmEvent(event, sink);  // acknowledges the event
      ++seen;
    }
  }
  // Async events: read when a completion event woke us, and every kAsyncCheckReaps reaps
  // while spinning (one read syscall; not on every reap of the hot path).
  bool check_async = ++reaps_since_async_check_ >= kAsyncCheckReaps;
  if (check_async) reaps_since_async_check_ = 0;
  for (auto& [context, device] : devices_) {
    if (check_async || device->signaled()) {
      device->ReadAsyncEvents([&](const ibv_async_event& event) { HandleAsyncEvent(*device, event, sink); });
    }
    if (FaultFires(FaultPoint::kRdmaCqError)) {  // test-only: the device reports a CQ overrun
      ibv_async_event event{};
      event.event_type = IBV_EVENT_CQ_ERR;
      event.element.cq = device->cq();
      HandleAsyncEvent(*device, event, sink);
    }
    device->ConsumeEvents();
    ibv_wc wcs[32];
    int n;
    for (bool again = true; again;) {
      while ((n = ibv_poll_cq(device->cq(), 32, wcs)) > 0) {
        for (int i = 0; i < n; ++i) HandleCompletion(wcs[i], sink);
        seen += n;
      }
      again = device->Arm();  // re-armed just now: poll once more (see DeviceResources::Arm)
    }
  }
  std::vector<uint32_t> failed;
  failed.swap(send_failed_);
  for (uint32_t id : failed) {
    auto it = connections_.find(id);
    if (it != connections_.end()) Fail(it->second, it->second.send_failed, kReasonNone, sink);
  }
  std::vector<uint32_t> gone;
  gone.swap(disconnected_);
  for (uint32_t id : gone) {
    auto it = connections_.find(id);
    if (it == connections_.end() || it->second.state == RdmaConnection::State::kClosing) continue;
    RdmaConnection& c = it->second;
    bool clean = c.reading.empty() && c.exports.empty() && c.inbound.empty() && c.pending_reads.empty();
    Fail(c, clean ? 0 : ECONNRESET, kReasonNone, sink);
  }
  std::vector<uint32_t> doomed;
  doomed.swap(to_destroy_);
  for (uint32_t id : doomed) Destroy(id);
  return seen;
}

void RdmaEngine::HandleCompletion(const ibv_wc& wc, EventSink& sink) {
  Op op = static_cast<Op>(wc.wr_id >> 60);
  uint32_t id = static_cast<uint32_t>((wc.wr_id >> 32) & 0x0fffffff);
  uint32_t value = static_cast<uint32_t>(wc.wr_id);
  auto it = connections_.find(id);
  if (it == connections_.end()) return;  // its resources were returned when it was destroyed
  RdmaConnection& c = it->second;
  bool ok = wc.status == IBV_WC_SUCCESS;
  if (op == kOpRecv) {
    c.posted_slots.erase(value);
    if (!ok) {
      RecycleSlot(value);
      if (c.state == RdmaConnection::State::kOpen && !c.peer_disconnected) Fail(c, ECONNRESET, kReasonNone, sink);
      return;
    }
    if (c.state == RdmaConnection::State::kConnecting) {
      // The peer sent as soon as it saw ESTABLISHED; ours is not handled yet.
      c.early.emplace_back(value, wc.byte_len);
      return;
    }
    OnRecv(c, value, wc.byte_len, sink);
    return;
  }
  --c.sends_in_flight;
  switch (op) {
    case kOpSendData:
    case kOpSendControl:
      c.sending_leases.erase(value);
      FreeLease(value);
      break;
    case kOpRead: {
      auto found = c.reading.find(value);
      if (found == c.reading.end()) break;
      RdmaConnection::Reading& r = found->second;
      --r.in_flight;
      ReadChunkDone();
      if (!ok || c.state != RdmaConnection::State::kOpen) {
        if (r.in_flight == 0) {
          UncountReadTarget(c, value, r.lease_offset);
          FreeLease(r.lease_offset);
          c.reading.erase(found);
        }
        break;
      }
      uint32_t chunk = r.length - r.completed < kReadChunk ? r.length - r.completed : kReadChunk;
      r.completed += chunk;
      // The next chunk is posted by Pump (MarkDirty below), after connections that were
      // already waiting for the budget: one large transfer does not hold it to the end.
      if (r.completed < r.length) break;
      stats_.reads += 1;
      stats_.read_bytes += r.length;
      c.inbound.CompleteRead(value, r.lease_offset, r.length);
      c.reading.erase(found);
      c.pending_done.push_back(value);
      DeliverInOrder(c, sink);
      break;
    }
    case kOpProbe:
      c.sending_leases.erase(value);
      FreeLease(value);
      break;
    default:
      break;
  }
  // After the peer left, flushed work requests are expected; any other failure (a
  // refused key: REM_ACCESS_ERR) is still the connection's story.
  bool expected_flush = c.peer_disconnected && wc.status == IBV_WC_WR_FLUSH_ERR;
  if (!ok && c.state == RdmaConnection::State::kOpen && !expected_flush) {
    int err = wc.status == IBV_WC_REM_ACCESS_ERR ? EACCES
              : wc.status == IBV_WC_RETRY_EXC_ERR ? ETIMEDOUT
                                                   : ECONNRESET;
    Fail(c, err, kReasonNone, sink);
    return;
  }
  MarkDirty(c);
}

// The device's own reports. A queue pair in the error state fails its connection; a CQ
// overrun or a fatal device error fails every connection on the device (completions were
// lost: what they would have returned can no longer be accounted for).
void RdmaEngine::HandleAsyncEvent(DeviceResources& device, const ibv_async_event& event, EventSink& sink) {
  // Events of another engine's queue pair or CQ on the shared context match nothing here.
  auto affected = [&](const RdmaConnection& c) {
    switch (event.event_type) {
      case IBV_EVENT_QP_FATAL:
      case IBV_EVENT_QP_REQ_ERR:
      case IBV_EVENT_QP_ACCESS_ERR:
        return c.cm_id.has_qp() && c.cm_id->qp == event.element.qp;
      case IBV_EVENT_CQ_ERR:
        return c.device == &device && event.element.cq == device.cq();
      case IBV_EVENT_DEVICE_FATAL:
        return c.device == &device;
      default:
        return false;  // informational (port up/down, path migration, LID change)
    }
  };
  for (auto& [id, c] : connections_) {
    if (c.state == RdmaConnection::State::kClosing || !affected(c)) continue;
    stats_.async_errors += 1;
    Fail(c, EIO, kReasonNone, sink);
  }
}

void RdmaEngine::OnRecv(RdmaConnection& c, uint32_t slot, uint32_t bytes, EventSink& sink) {
  if (c.state != RdmaConnection::State::kOpen) {
    RecycleSlot(slot);
    return;
  }
  const uint8_t* p = region_->slot(slot);
  RdmaMessage message;
  RdmaParse parsed = ParseRdmaMessage(p, bytes, options_.max_frame_bytes, &message);
  if (parsed == RdmaParse::kOk && !AddCredits(&c.send_credits, message.credits, c.peer_recv_depth)) {
    parsed = RdmaParse::kProtocolError;  // more credits than the peer can have posted
  }
  if (parsed != RdmaParse::kOk) {
    RecycleSlot(slot);
    if (parsed == RdmaParse::kTooLarge) Fail(c, EMSGSIZE, kReasonFrameTooLarge, sink);
    else Fail(c, EPROTO, kReasonProtocolError, sink);
    return;
  }
  if (PostRecv(c)) ++c.owed_credits;  // a fresh slot takes the consumed one's place
  else if (c.recv_deficit++ == 0) short_of_receives_.push_back(c.id);
  MarkDirty(c);
  switch (message.kind) {
    case kData: {
      region_->PinSlot(slot);
      if (!c.inbound.empty()) {  // a READ is ahead of this frame: it waits its turn
        c.inbound.AddSend(slot, static_cast<size_t>(p - region_->base()) + kRdmaHeaderBytes, message.length);
        return;
      }
      batch_pins_.push_back(slot);
      stats_.frames_in += 1;
      stats_.bytes_in += message.length;
      size_t offset = static_cast<size_t>(p - region_->base()) + kRdmaHeaderBytes;
      sink.Push(Event{kEventFrameView, static_cast<int32_t>(c.id), static_cast<int32_t>(offset),
                      static_cast<int32_t>(message.length)});
      return;
    }
    case kReadRequest: {
      RecycleSlot(slot);
      const ReadRequest& request = message.read;
      // Test-only: the request taken a second time, as a peer reusing its token sends it.
      const int takes = FaultFires(FaultPoint::kRdmaRepeatReadRequest) ? 2 : 1;
      for (int take = 0; take < takes; ++take) {
        if (c.inbound.TokenInUse(request.token)) {  // waiting, being read, or read and undelivered
          Fail(c, EPROTO, kReasonProtocolError, sink);
          return;
        }
        if (size_t{kRdmaHeaderBytes} + request.length > region_->lease_area_bytes()) {
          Fail(c, ENOBUFS, kReasonRegionFull, sink);  // could never fit: don't wait forever
          return;
        }
        c.pending_reads.push_back(request);
        c.inbound.AddRead(request.token);
        StartReads(c, sink);
        if (!c.pending_reads.empty()) waiting_for_leases_.push_back(c.id);
      }
      return;
    }
    case kReadDone: {
      RecycleSlot(slot);
      auto e = c.exports.find(message.token);
      if (e == c.exports.end()) {
        Fail(c, EPROTO, kReasonProtocolError, sink);
        return;
      }
      last_revoked_rkey_ = e->second.mr.get()->rkey;
      e->second.mr.Reset();  // the peer's key stops working here
      stats_.keys_revoked += 1;
      FreeLease(e->second.lease_offset);
      c.exports.erase(e);
      return;
    }
    case kCredit:
      RecycleSlot(slot);
      return;
  }
}

// Delivers the frames at the front of c.inbound that are complete, in arrival order.
void RdmaEngine::DeliverInOrder(RdmaConnection& c, EventSink& sink) {
  while (c.inbound.ReadyFront() && c.state == RdmaConnection::State::kOpen) {
    InboundFrames::Entry in = *c.inbound.ReadyFront();
    c.inbound.PopFront();
    stats_.frames_in += 1;
    stats_.bytes_in += in.length;
    if (in.is_read) {
      UncountReadTarget(c, in.slot_or_token, in.offset);  // JS owns the lease from here
      sink.Push(Event{kEventFrameLease, static_cast<int32_t>(c.id), static_cast<int32_t>(in.offset + kRdmaHeaderBytes),
                      static_cast<int32_t>(in.length)});
    } else {
      batch_pins_.push_back(in.slot_or_token);  // pinned on arrival; EndBatch unpins
      sink.Push(Event{kEventFrameView, static_cast<int32_t>(c.id), static_cast<int32_t>(in.offset),
                      static_cast<int32_t>(in.length)});
    }
  }
}

// Starts the READs of waiting requests while leases are free and the connection's share
// admits them (common/reassembly_share.h). A request that may not have a lease yet waits
// (its sender's lease stays exported): back-pressure, not failure; Reap() retries it.
void RdmaEngine::StartReads(RdmaConnection& c, EventSink& sink) {
  while (!c.pending_reads.empty() && c.state == RdmaConnection::State::kOpen) {
    ReadRequest request = c.pending_reads.front();
    size_t bytes = kRdmaHeaderBytes + size_t{request.length};
    ReassemblyShare::Admission admission = read_share_.Admit(c.id, c.unsent_bytes + c.read_share_bytes, bytes);
    bool over_share = admission == ReassemblyShare::Admission::kOverShare;
    // One over-share frame per engine: a connection holding the place waits for its return too.
    if (admission == ReassemblyShare::Admission::kWait || (over_share && c.over_share)) return;
    int64_t lease = region_->AllocateLease(bytes);
    if (lease < 0) return;
    c.pending_reads.pop_front();
    if (over_share) read_share_.Take(c.id);
    CountReadTarget(c, request.token, static_cast<size_t>(lease), over_share);
    RdmaHeader lease_header{request.length, 0, kData, 0};
    memcpy(region_->base() + lease, &lease_header, sizeof lease_header);
    last_read_addr_ = request.addr;
    last_read_rkey_ = request.rkey;
    RdmaConnection::Reading& r = c.reading[request.token];
    r = RdmaConnection::Reading{static_cast<size_t>(lease), request.length, request.addr, request.rkey};
    if (!PostReads(c, request.token, r)) {
      Fail(c, EIO, kReasonNone, sink);
      return;
    }
  }
}

void RdmaEngine::CountReadTarget(RdmaConnection& c, uint32_t token, size_t lease_offset, bool over_share) {
  size_t size = region_->leases().SizeAt(lease_offset - region_->recv_area_bytes());
  if (over_share) {
    c.over_share = true;
    c.over_share_token = token;
    stats_.over_share_reads += 1;
  } else {
    c.read_share_bytes += size;
  }
  stats_.read_target_bytes += static_cast<double>(size);
  if (stats_.read_target_bytes > stats_.read_target_bytes_peak) stats_.read_target_bytes_peak = stats_.read_target_bytes;
}

// The waiting connections (waiting_for_leases_) see the freed share on their next Reap.
void RdmaEngine::UncountReadTarget(RdmaConnection& c, uint32_t token, size_t lease_offset) {
  size_t size = region_->leases().SizeAt(lease_offset - region_->recv_area_bytes());
  if (c.over_share && c.over_share_token == token) {
    c.over_share = false;
    read_share_.Return(c.id);
  } else {
    c.read_share_bytes -= size < c.read_share_bytes ? size : c.read_share_bytes;
  }
  stats_.read_target_bytes -= static_cast<double>(size);
}

}  // namespace crdma
