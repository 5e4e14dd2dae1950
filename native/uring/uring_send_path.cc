// UringEngine's send path (see uring_engine.h): Send() queues a whole lease, the send-pack
// table (DrainSendRanges, SendRange) queues ranges of packed leases, Flush()/FlushSends()
// write each dirty connection's queue with one SENDMSG at a time, and send completions
// free the leases whose bytes are out (SendProgress) until a graceful close lingers.
// It owns the send half of UringConnection (queued/sending iovecs and their leases,
// unsent_bytes, written_bytes); uring_data_path.cc is the receive half and the pump.
#include <algorithm>
#include <cerrno>
#include <climits>

#include "common/connection_lookup.h"
#include "uring/uring_engine.h"

namespace crdma {
namespace {
constexpr size_t kMaxIovPerSend = IOV_MAX;
}  // namespace

void UringEngine::MarkDirty(UringConnection& c) { dirty_.Mark(c); }

int UringEngine::Send(uint32_t connection, size_t lease_offset, uint32_t length) {
  auto it = connections_.find(connection);
  bool gone = it == connections_.end() || it->second.state == UringConnection::State::kClosing ||
              it->second.state == UringConnection::State::kLingering;
  if (gone || length > options_.max_frame_bytes ||
      region_->leases().SizeAt(lease_offset - region_->recv_area_bytes()) < size_t{length} + 4) {
    FreeLease(lease_offset);
    return gone ? -ENOTCONN : -EINVAL;
  }
  UringConnection& c = it->second;
  uint8_t* p = region_->base() + lease_offset;
  StoreLe32(p, length);
  size_t lease_size = region_->leases().SizeAt(lease_offset - region_->recv_area_bytes());
  c.queued_iov.push_back(iovec{p, size_t{length} + 4});
  c.queued_leases.push_back(UringConnection::QueuedSend{lease_offset, lease_size, true});
  c.unsent_bytes += lease_size;
  stats_.frames_out += 1;
  stats_.bytes_out += length;
  MarkDirty(c);
  return 0;
}

void UringEngine::SetSendRanges(uint32_t* ranges, size_t capacity) {
  send_ranges_ = ranges;
  send_ranges_capacity_ = capacity;
}

void UringEngine::DrainSendRanges() {
  if (send_ranges_ == nullptr || send_ranges_[0] == 0) return;
  size_t count = std::min<size_t>(send_ranges_[0], send_ranges_capacity_);
  send_ranges_[0] = 0;  // first: SendRange never reenters, but a throw must not replay
  send_ranges_[1] += 1;
  const uint32_t* table = send_ranges_ + kSendRangeHeaderWords;
  // Each lease's last range in this drain (scanning back: few distinct leases per drain).
  range_is_last_.assign(count, false);
  leases_seen_.clear();
  for (size_t i = count; i-- > 0;) {
    uint32_t lease = table[i * kSendRangeWords + 1];
    if (std::find(leases_seen_.begin(), leases_seen_.end(), lease) == leases_seen_.end()) {
      leases_seen_.push_back(lease);
      range_is_last_[i] = true;
    }
  }
  for (size_t i = 0; i < count; ++i) {
    const uint32_t* e = table + i * kSendRangeWords;
    SendRange(e[0], e[1], e[2], e[3], e[4], range_is_last_[i]);
  }
}

int UringEngine::SendRange(uint32_t connection, size_t lease_offset, uint32_t from, uint32_t length,
                           uint32_t frames, bool last) {
  auto it = connections_.find(connection);
  size_t lease_size = region_->leases().SizeAt(lease_offset - region_->recv_area_bytes());
  if (it == connections_.end() || size_t{from} + length > lease_size) {
    if (last) FreeLease(lease_offset);
    return it == connections_.end() ? -ENOTCONN : -EINVAL;
  }
  UringConnection& c = it->second;
  if (c.state == UringConnection::State::kClosing || c.state == UringConnection::State::kLingering) {
    // Earlier ranges of this pack may still be in a SENDMSG the close cancels.
    if (last) c.free_on_destroy.push_back(lease_offset);
    return -ENOTCONN;
  }
  // JS describes whole frames only: every range has bytes.
  c.queued_iov.push_back(iovec{region_->base() + lease_offset + from, length});
  c.queued_leases.push_back(UringConnection::QueuedSend{lease_offset, length, last});
  c.unsent_bytes += length;
  stats_.frames_out += frames;
  stats_.bytes_out += length - 4ull * frames;
  MarkDirty(c);
  return 0;
}

void UringEngine::PrepSend(UringConnection& c) {
  size_t count = c.sending_iov.size() - c.sending_first;
  if (count > kMaxIovPerSend) count = kMaxIovPerSend;
  c.msg = msghdr{};
  c.msg.msg_iov = c.sending_iov.data() + c.sending_first;
  c.msg.msg_iovlen = count;
  io_uring_sqe* sqe = ring_.Sqe();
  // MSG_WAITALL: io_uring retries a short send itself. The tls ULP refuses the flag
  // (EOPNOTSUPP), so a kTLS socket's short send completes short and SendProgress sends the rest.
  io_uring_prep_sendmsg(sqe, c.fd.get(), &c.msg, c.ktls ? MSG_NOSIGNAL : MSG_NOSIGNAL | MSG_WAITALL);
  io_uring_sqe_set_data64(sqe, Tag(kOpSend, c.id));
  ++c.inflight;
  c.send_inflight = true;
}

void UringEngine::PrepDirtySends() {
  dirty_.Serve([this](uint32_t id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    UringConnection& c = it->second;
    c.dirty = false;
    if (c.state != UringConnection::State::kOpen || c.send_inflight || c.queued_iov.empty()) return;
    c.sending_iov.swap(c.queued_iov);
    c.sending_leases.swap(c.queued_leases);
    c.queued_iov.clear();
    c.queued_leases.clear();
    c.sending_first = 0;
    PrepSend(c);
  });
}

void UringEngine::FlushSends() {
  DrainSendRanges();
  if (dirty_.empty()) return;
  // The previous chunk's send normally completed inline when it was submitted: take its
  // completion now, so this chunk's frames go out with their own SENDMSG.
  ReapSendCompletions();
  PrepDirtySends();
  if (ring_.Submit() > 0) stats_.submits += 1;
}

void UringEngine::OnSend(UringConnection& c, int res, EventSink& sink) {
  --c.inflight;
  c.send_inflight = false;
  if (res < 0) {
    if (c.state == UringConnection::State::kOpen) Fail(c, -res, kReasonNone, sink);
    return;
  }
  SendProgress(c, static_cast<size_t>(res));
}

void UringEngine::ReapSendCompletions() {
  io_uring_cqe* cqe;
  while (io_uring_peek_cqe(ring_.get(), &cqe) == 0) {
    uint64_t tag = io_uring_cqe_get_data64(cqe);
    int res = cqe->res;
    // Anything else (or a failed send, which reports an event) waits for Reap(), in order.
    if (static_cast<Op>(tag >> 32) != kOpSend || res < 0) break;
    io_uring_cqe_seen(ring_.get(), cqe);
    auto it = connections_.find(static_cast<uint32_t>(tag));
    if (it == connections_.end()) continue;
    UringConnection& c = it->second;
    --c.inflight;
    c.send_inflight = false;
    SendProgress(c, static_cast<size_t>(res));
    if (c.state == UringConnection::State::kClosing) closing_.push_back(c.id);  // destroyed by Flush()
  }
}

void UringEngine::SendProgress(UringConnection& c, size_t bytes) {
  while (bytes > 0 && c.sending_first < c.sending_iov.size()) {
    iovec& iov = c.sending_iov[c.sending_first];
    if (bytes >= iov.iov_len) {
      bytes -= iov.iov_len;
      const UringConnection::QueuedSend& q = c.sending_leases[c.sending_first];
      c.unsent_bytes -= q.unsent < c.unsent_bytes ? q.unsent : c.unsent_bytes;
      c.written_bytes += static_cast<double>(q.unsent);
      if (q.frees_lease) FreeLease(q.lease);
      ++c.sending_first;
      WakeShareWaiter(c);  // its share has more room for the frame it waits to reassemble
    } else {
      iov.iov_base = static_cast<uint8_t*>(iov.iov_base) + bytes;
      iov.iov_len -= bytes;
      bytes = 0;
    }
  }
  if (c.state != UringConnection::State::kOpen) return;
  if (c.sending_first < c.sending_iov.size()) {
    PrepSend(c);  // the rest of this batch (short write or more than IOV_MAX frames)
    return;
  }
  c.sending_iov.clear();
  c.sending_leases.clear();
  c.sending_first = 0;
  if (!c.queued_iov.empty()) MarkDirty(c);
  else if (c.close_after_send) BeginLinger(c);
}

bool UringEngine::SendBacklog(uint32_t connection, double* unsent, double* written) const {
  return ReadSendBacklog(FindConnection(connections_, connection), unsent, written);
}

void UringEngine::FreeQueuedSends(UringConnection& c) {
  for (const UringConnection::QueuedSend& q : c.queued_leases) {
    if (q.frees_lease) FreeLease(q.lease);
  }
  c.queued_iov.clear();
  c.queued_leases.clear();
}

void UringEngine::FreeSendLeases(UringConnection& c) {
  FreeQueuedSends(c);
  for (size_t i = c.sending_first; i < c.sending_leases.size(); ++i) {
    if (c.sending_leases[i].frees_lease) FreeLease(c.sending_leases[i].lease);
  }
  c.sending_leases.clear();
  for (size_t lease : c.free_on_destroy) FreeLease(lease);
  c.free_on_destroy.clear();
}

}  // namespace crdma
