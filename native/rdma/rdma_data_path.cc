// RdmaEngine's data path, outgoing half (see rdma_engine.h): receives posted, frames queued
// by JS sent as SENDs or, larger than the peer's slot, as READ_REQUESTs the peer answers
// with RDMA READs (posted in chunks within the engine's READ window); credits in every
// header keep each side below the other's posted receives. rdma_completions.cc is the
// incoming half.
#include <cstring>

#include "common/connection_lookup.h"
#include "common/fault_injection.h"
#include "rdma/rdma_engine.h"
#include "rdma/rdma_message.h"

namespace crdma {
namespace {

uint32_t Cap(uint32_t v, uint32_t max) { return v > max ? max : v; }

}  // namespace
bool RdmaEngine::PostRecv(RdmaConnection& c) {
  int32_t slot = TakeSlot();
  if (slot < 0) return false;
  ibv_sge sge{reinterpret_cast<uint64_t>(region_->slot(slot)), static_cast<uint32_t>(region_->slot_size()),
              c.device->lkey()};
  ibv_recv_wr wr{};
  wr.wr_id = Tag(kOpRecv, c.id, static_cast<uint32_t>(slot));
  wr.sg_list = &sge;
  wr.num_sge = 1;
  ibv_recv_wr* bad = nullptr;
  if (ibv_post_recv(c.cm_id->qp, &wr, &bad)) {
    RecycleSlot(static_cast<uint32_t>(slot));
    return false;
  }
  c.posted_slots.insert(static_cast<uint32_t>(slot));
  return true;
}

bool RdmaEngine::PostSend(RdmaConnection& c, size_t lease_offset, uint32_t bytes, Op op, uint32_t value,
                          bool allow_inline) {
  bool inline_send = allow_inline && bytes <= c.device->max_inline();
  ibv_sge sge{reinterpret_cast<uint64_t>(region_->base() + lease_offset), bytes, c.device->lkey()};
  ibv_send_wr wr{};
  wr.wr_id = Tag(inline_send ? kOpSendInline : op, c.id, value);
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_SEND;
  wr.send_flags = IBV_SEND_SIGNALED | (inline_send ? IBV_SEND_INLINE : 0);
  ibv_send_wr* bad = nullptr;
  int rc = FaultFires(FaultPoint::kRdmaPostSend) ? ENOMEM : ibv_post_send(c.cm_id->qp, &wr, &bad);
  if (rc != 0) {
    FreeLease(lease_offset);
    // The frame (or control message) is lost and its credit spent: the connection cannot
    // go on in step with its peer. Reap() closes it with the error (no sink here).
    stats_.send_failures += 1;
    if (c.send_failed == 0) send_failed_.push_back(c.id);
    c.send_failed = rc > 0 ? rc : EIO;
    return false;
  }
  ++c.sends_in_flight;
  if (inline_send) {
    stats_.inline_sends += 1;
    FreeLease(lease_offset);  // the device copied the bytes at post time
  } else {
    c.sending_leases.insert(lease_offset);
  }
  return true;
}

bool RdmaEngine::SendControl(RdmaConnection& c, RdmaKind kind, const void* body, uint32_t body_bytes) {
  int64_t lease = region_->AllocateLease(kRdmaHeaderBytes + body_bytes);
  if (lease < 0) return false;
  uint8_t* p = region_->base() + lease;
  RdmaHeader header{body_bytes, static_cast<uint16_t>(Cap(c.owed_credits, 0xffff)), kind, 0};
  c.owed_credits -= header.credits;
  memcpy(p, &header, sizeof header);
  if (body_bytes) memcpy(p + kRdmaHeaderBytes, body, body_bytes);
  --c.send_credits;
  return PostSend(c, static_cast<size_t>(lease), kRdmaHeaderBytes + body_bytes, kOpSendControl,
                  static_cast<uint32_t>(lease), true);
}

bool RdmaEngine::PostReads(RdmaConnection& c, uint32_t token, RdmaConnection::Reading& r) {
  while (reads_.HasRoom() && r.posted < r.length && c.sends_in_flight < c.max_send_wr) {
    uint32_t chunk = r.length - r.posted < kReadChunk ? r.length - r.posted : kReadChunk;
    ibv_sge sge{reinterpret_cast<uint64_t>(region_->base() + r.lease_offset + kRdmaHeaderBytes + r.posted), chunk,
                c.device->lkey()};
    ibv_send_wr wr{};
    wr.wr_id = Tag(kOpRead, c.id, token);
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.opcode = IBV_WR_RDMA_READ;
    wr.send_flags = IBV_SEND_SIGNALED;
    wr.wr.rdma.remote_addr = r.remote_addr + r.posted;
    wr.wr.rdma.rkey = r.rkey;
    ibv_send_wr* bad = nullptr;
    if (ibv_post_send(c.cm_id->qp, &wr, &bad)) return false;
    ++c.sends_in_flight;
    ++r.in_flight;
    reads_.Posted();
    stats_.read_chunks_peak = reads_.peak();
    r.posted += chunk;
  }
  if (r.posted < r.length && !c.read_waiting) {  // window or send queue full: resumed later
    c.read_waiting = true;
    reads_.Wait(c.id);
  }
  return true;
}

void RdmaEngine::ReadChunkDone() {
  for (uint32_t id : reads_.ChunkDone()) {  // in the order they started waiting; Pump re-lists them
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;
    it->second.read_waiting = false;
    MarkDirty(it->second);
  }
}

void RdmaEngine::MarkDirty(RdmaConnection& c) { dirty_.Mark(c); }
int RdmaEngine::Send(uint32_t connection, size_t lease_offset, uint32_t length) {
  auto it = connections_.find(connection);
  bool open = it != connections_.end() && it->second.state != RdmaConnection::State::kClosing;
  if (!open || length > options_.max_frame_bytes ||
      region_->leases().SizeAt(lease_offset - region_->recv_area_bytes()) < size_t{length} + kRdmaHeaderBytes) {
    FreeLease(lease_offset);
    return open ? -EINVAL : -ENOTCONN;
  }
  RdmaConnection& c = it->second;
  c.queue.push_back(RdmaConnection::QueuedFrame{lease_offset, length});
  c.unsent_bytes += region_->leases().SizeAt(lease_offset - region_->recv_area_bytes());
  stats_.frames_out += 1;
  stats_.bytes_out += length;
  MarkDirty(c);
  return 0;
}

void RdmaEngine::Dequeued(RdmaConnection& c, size_t lease_offset) {
  size_t size = region_->leases().SizeAt(lease_offset - region_->recv_area_bytes());
  c.unsent_bytes -= size < c.unsent_bytes ? size : c.unsent_bytes;
  c.written_bytes += static_cast<double>(size);
}

const PeerIdentity* RdmaEngine::PeerOf(uint32_t connection) const {
  const RdmaConnection* c = FindConnection(connections_, connection);
  return c == nullptr ? nullptr : &c->identity;
}

bool RdmaEngine::SendBacklog(uint32_t connection, double* unsent, double* written) const {
  return ReadSendBacklog(FindConnection(connections_, connection), unsent, written);
}

// Sends what credits allow: READ_DONEs first (they free the peer's leases), then frames.
// The last credit is kept for a CREDIT message, so two sides out of credits can always
// tell each other about re-posted receives.
void RdmaEngine::Pump(RdmaConnection& c) {
  if (c.state != RdmaConnection::State::kOpen) return;
  // Transfers that could not post a chunk (engine-wide budget spent, send queue full) go
  // on here, oldest frame first: frames are delivered in arrival order anyway.
  for (const InboundFrames::Entry& in : c.inbound) {
    if (!in.is_read || in.ready) continue;
    auto found = c.reading.find(in.slot_or_token);
    if (found != c.reading.end() && found->second.posted < found->second.length) {
      PostReads(c, found->first, found->second);
    }
  }
  auto can_send = [&c] { return c.send_failed == 0 && c.send_credits >= 2 && c.sends_in_flight + 2 <= c.max_send_wr; };
  while (!c.pending_done.empty() && can_send()) {
    uint32_t token = c.pending_done.back();
    if (!SendControl(c, kReadDone, &token, sizeof token)) break;
    c.pending_done.pop_back();
  }
  while (!c.queue.empty() && can_send()) {
    RdmaConnection::QueuedFrame f = c.queue.front();
    uint8_t* lease = region_->base() + f.lease_offset;
    if (kRdmaHeaderBytes + f.length <= c.peer_slot_size) {
      c.queue.pop_front();
      Dequeued(c, f.lease_offset);
      RdmaHeader header{f.length, static_cast<uint16_t>(Cap(c.owed_credits, 0xffff)), kData, 0};
      c.owed_credits -= header.credits;
      memcpy(lease, &header, sizeof header);
      --c.send_credits;
      PostSend(c, f.lease_offset, kRdmaHeaderBytes + f.length, kOpSendData, static_cast<uint32_t>(f.lease_offset),
               true);
      continue;
    }
    // Larger than the peer's slot: grant remote READ on this lease only, for this transfer.
    MemoryRegistration mr(api_, api_.reg_mr(c.device->pd(), lease + kRdmaHeaderBytes, f.length, IBV_ACCESS_REMOTE_READ));
    if (!mr) break;  // retried on the next flush
    uint32_t token = c.next_token++;
    ReadRequest request{reinterpret_cast<uint64_t>(lease + kRdmaHeaderBytes), mr.get()->rkey, f.length, token};
    if (!SendControl(c, kReadRequest, &request, sizeof request)) break;  // mr is revoked here
    c.queue.pop_front();
    Dequeued(c, f.lease_offset);
    c.exports.emplace(token, RdmaConnection::Export{f.lease_offset, std::move(mr)});
    stats_.keys_granted += 1;
  }
  if (!c.queue.empty() && !can_send()) stats_.credit_stalls += 1;
  uint32_t threshold = c.recv_depth / 2 > 0 ? c.recv_depth / 2 : 1;
  if (c.owed_credits >= threshold && c.send_credits >= 1 && c.sends_in_flight < c.max_send_wr) {
    if (SendControl(c, kCredit, nullptr, 0)) stats_.credit_messages += 1;
  }
}

int RdmaEngine::Flush() {
  if (!free_slots_.empty() && !short_of_receives_.empty()) {
    std::vector<uint32_t> short_of;
    short_of.swap(short_of_receives_);
    for (uint32_t id : short_of) {
      auto it = connections_.find(id);
      if (it == connections_.end() || it->second.state != RdmaConnection::State::kOpen) continue;
      RdmaConnection& c = it->second;
      while (c.recv_deficit > 0 && PostRecv(c)) {
        --c.recv_deficit;
        ++c.owed_credits;
      }
      if (c.recv_deficit > 0) short_of_receives_.push_back(id);
      MarkDirty(c);
    }
  }
  dirty_.Serve([this](uint32_t id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    it->second.dirty = false;
    Pump(it->second);
    MaybeFinishClose(it->second);
  });
  std::vector<uint32_t> doomed;
  doomed.swap(to_destroy_);
  for (uint32_t id : doomed) Destroy(id);
  return 0;
}

int RdmaEngine::ProbeRead(uint32_t connection, uint64_t addr, uint32_t rkey, uint32_t length) {
  auto it = connections_.find(connection);
  if (it == connections_.end() || it->second.state != RdmaConnection::State::kOpen) return -ENOTCONN;
  RdmaConnection& c = it->second;
  int64_t lease = region_->AllocateLease(length);
  if (lease < 0) return -ENOBUFS;
  ibv_sge sge{reinterpret_cast<uint64_t>(region_->base() + lease), length, c.device->lkey()};
  ibv_send_wr wr{};
  wr.wr_id = Tag(kOpProbe, c.id, static_cast<uint32_t>(lease));
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = IBV_WR_RDMA_READ;
  wr.send_flags = IBV_SEND_SIGNALED;
  wr.wr.rdma.remote_addr = addr;
  wr.wr.rdma.rkey = rkey;
  ibv_send_wr* bad = nullptr;
  if (ibv_post_send(c.cm_id->qp, &wr, &bad)) {
    FreeLease(static_cast<size_t>(lease));
    return -EIO;
  }
  ++c.sends_in_flight;
  c.sending_leases.insert(static_cast<size_t>(lease));
  return 0;
}

void RdmaEngine::EndBatch() {
  for (uint32_t slot : batch_pins_) ReleaseSlot(slot);
  batch_pins_.clear();
}

}  // namespace crdma
