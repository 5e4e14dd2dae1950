// See rdma_engine.h. A connection's life, as rdma_cm events and completions drive it:
//   1. active side: ADDR_RESOLVED -> ROUTE_RESOLVED -> queue pair + posted receives ->
//      rdma_connect(Hello); passive side: CONNECT_REQUEST(Hello) -> queue pair + posted
//      receives -> rdma_accept(Hello)
//   2. ESTABLISHED: each side's first credits = the receives the other posted
//   3. frames: SEND (fits a slot) or READ_REQUEST -> RDMA READ -> READ_DONE (large)
//   4. DISCONNECTED / error / close: queue pair destroyed, then every slot and lease it
//      held returned; the rdma_cm id destroyed after its last event was acknowledged.
#include "rdma/rdma_engine.h"

#include <arpa/inet.h>
#include <fcntl.h>

#include <cstring>

#include "common/sys_error.h"
#include "rdma/rdma_message.h"

namespace crdma {
namespace {

constexpr int kResolveTimeoutMs = 2000;

uint32_t Cap(uint32_t v, uint32_t max) { return v > max ? max : v; }

bool ParseHello(const void* data, uint8_t len, Hello* out) {
  if (!data || len < sizeof(Hello)) return false;
  memcpy(out, data, sizeof(Hello));
  return out->magic == kRdmaHelloMagic && out->version == kRdmaVersion && out->slot_size >= 64;
}

int CmErrno(rdma_cm_event_type type) {
  switch (type) {
    case RDMA_CM_EVENT_REJECTED: return ECONNREFUSED;
    case RDMA_CM_EVENT_UNREACHABLE: return EHOSTUNREACH;
    case RDMA_CM_EVENT_ADDR_ERROR: return EADDRNOTAVAIL;
    case RDMA_CM_EVENT_ROUTE_ERROR: return ENETUNREACH;
    case RDMA_CM_EVENT_DEVICE_REMOVAL: return ENODEV;
    default: return ECONNABORTED;
  }
}

}  // namespace

RdmaEngine::RdmaEngine(const VerbsApi& api, std::shared_ptr<MemoryRegion> region, const RdmaEngineOptions& options,
                       std::function<void(int)> on_new_fd)
    : api_(api), region_(std::move(region)), options_(options), on_new_fd_(std::move(on_new_fd)) {
  cm_channel_ = api_.create_event_channel();
  if (!cm_channel_) throw SysError{errno ? errno : ENODEV, "rdma_create_event_channel"};
  int flags = fcntl(cm_channel_->fd, F_GETFL);
  fcntl(cm_channel_->fd, F_SETFL, flags | O_NONBLOCK);
  free_slots_.reserve(region_->recv_slots());
  for (uint32_t i = region_->recv_slots(); i > 0; --i) free_slots_.push_back(i - 1);
  on_new_fd_(cm_channel_->fd);
}

RdmaEngine::~RdmaEngine() {
  std::vector<uint32_t> ids;
  for (auto& [id, c] : connections_) ids.push_back(id);
  for (uint32_t id : ids) Destroy(id);
  for (auto& [id, l] : listeners_) api_.destroy_id(l.cm_id);
  listeners_.clear();
  devices_.clear();
  api_.destroy_event_channel(cm_channel_);
}

int RdmaEngine::cm_fd() const { return cm_channel_->fd; }

void RdmaEngine::FdReadable(int fd) {
  if (fd == cm_channel_->fd) {
    cm_signaled_ = true;
    return;
  }
  for (auto& [context, device] : devices_) {
    if (device->completion_fd() == fd) device->MarkSignaled();
  }
}

void RdmaEngine::FreeLease(size_t offset) { region_->FreeLease(offset); }

int32_t RdmaEngine::TakeSlot() {
  if (free_slots_.empty()) return -1;
  uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  return static_cast<int32_t>(slot);
}

void RdmaEngine::ReturnSlot(uint32_t slot) {
  region_->PoisonIfEnabled(region_->slot(slot), region_->slot_size());
  free_slots_.push_back(slot);
}

DeviceResources& RdmaEngine::DeviceFor(ibv_context* context) {
  auto it = devices_.find(context);
  if (it != devices_.end()) return *it->second;
  auto device = std::make_unique<DeviceResources>(api_, context, region_);
  on_new_fd_(device->completion_fd());
  DeviceResources& ref = *device;
  devices_.emplace(context, std::move(device));
  return ref;
}

uint32_t RdmaEngine::Listen(sockaddr_storage* addr, int backlog) {
  uint32_t id = next_id_++;
  rdma_cm_id* cm_id = nullptr;
  if (api_.create_id(cm_channel_, &cm_id, reinterpret_cast<void*>(uintptr_t{id}), RDMA_PS_TCP)) {
    throw SysError{errno, "rdma_create_id"};
  }
  if (api_.bind_addr(cm_id, reinterpret_cast<sockaddr*>(addr)) || api_.listen(cm_id, backlog)) {
    int err = errno;
    api_.destroy_id(cm_id);
    throw SysError{err, "rdma_listen"};
  }
  uint16_t port = api_.get_src_port(cm_id);  // network order
  if (addr->ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(addr)->sin_port = port;
  else reinterpret_cast<sockaddr_in6*>(addr)->sin6_port = port;
  if (cm_id->verbs) DeviceFor(cm_id->verbs);  // bound to one device's address
  listeners_[id] = RdmaListener{id, cm_id};
  return id;
}

uint32_t RdmaEngine::Connect(const sockaddr_storage& remote, const sockaddr_storage* local) {
  uint32_t id = next_id_++;
  rdma_cm_id* cm_id = nullptr;
  if (api_.create_id(cm_channel_, &cm_id, reinterpret_cast<void*>(uintptr_t{id}), RDMA_PS_TCP)) {
    throw SysError{errno, "rdma_create_id"};
  }
  sockaddr_storage dst = remote;
  sockaddr_storage src;
  if (local) src = *local;
  if (api_.resolve_addr(cm_id, local ? reinterpret_cast<sockaddr*>(&src) : nullptr,
                        reinterpret_cast<sockaddr*>(&dst), kResolveTimeoutMs)) {
    int err = errno;
    api_.destroy_id(cm_id);
    throw SysError{err, "rdma_resolve_addr"};
  }
  RdmaConnection& c = connections_[id];
  c.id = id;
  c.cm_id = cm_id;
  c.state = RdmaConnection::State::kResolving;
  return id;
}

void RdmaEngine::SetUpQueuePair(RdmaConnection& c) {
  DeviceResources& device = DeviceFor(c.cm_id->verbs);
  c.device = &device;
  c.recv_depth = options_.recv_depth;
  c.max_send_wr = 2 * options_.recv_depth + 16;
  // Every receive and send this queue pair can have outstanding needs room in the shared CQ.
  if (!device.Reserve(c.recv_depth + c.max_send_wr)) {
    throw SysError{ENOBUFS, "ibv_resize_cq (the device's completion queue cannot hold another connection)"};
  }
  c.cq_reserved = c.recv_depth + c.max_send_wr;
  ibv_qp_init_attr attr{};
  attr.send_cq = device.cq();
  attr.recv_cq = device.cq();
  attr.qp_type = IBV_QPT_RC;
  attr.cap.max_send_wr = c.max_send_wr;
  attr.cap.max_recv_wr = c.recv_depth;
  attr.cap.max_send_sge = 1;
  attr.cap.max_recv_sge = 1;
  attr.cap.max_inline_data = 64;
  if (api_.create_qp(c.cm_id, device.pd(), &attr)) {
    attr.cap.max_inline_data = 0;  // provider without inline sends
    if (api_.create_qp(c.cm_id, device.pd(), &attr)) throw SysError{errno, "rdma_create_qp"};
  }
  device.set_max_inline(attr.cap.max_inline_data);
  c.qp_created = true;
  uint32_t posted = 0;
  while (posted < c.recv_depth && PostRecv(c)) ++posted;
  // Fewer than 2 receives can never carry a frame (a sender keeps its last credit for
  // CREDIT messages): refuse the connection rather than accept one that hangs.
  if (posted < 2) throw SysError{ENOBUFS, "ibv_post_recv (no free receive slots in the region)"};
  c.recv_depth = posted;  // what we advertise and keep posted: exactly what is posted now
}

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
    ReturnSlot(static_cast<uint32_t>(slot));
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
  if (int rc = ibv_post_send(c.cm_id->qp, &wr, &bad); rc != 0) {
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
  while (reads_in_flight_ < kReadsInFlight && r.posted < r.length && c.sends_in_flight < c.max_send_wr) {
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
    ++reads_in_flight_;
    if (reads_in_flight_ > stats_.read_chunks_peak) stats_.read_chunks_peak = reads_in_flight_;
    r.posted += chunk;
  }
  if (r.posted < r.length && !c.read_waiting) {  // budget or send queue full: resumed later
    c.read_waiting = true;
    read_waiters_.push_back(c.id);
  }
  return true;
}

void RdmaEngine::ReadChunkDone() {
  --reads_in_flight_;
  std::vector<uint32_t> waiters;
  waiters.swap(read_waiters_);
  for (uint32_t id : waiters) {  // in the order they started waiting; Pump re-lists them
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;
    it->second.read_waiting = false;
    MarkDirty(it->second);
  }
}

void RdmaEngine::MarkDirty(RdmaConnection& c) {
  if (!c.dirty) {
    c.dirty = true;
    dirty_.push_back(c.id);
  }
}

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
  auto it = connections_.find(connection);
  return it == connections_.end() ? nullptr : &it->second.identity;
}

bool RdmaEngine::SendBacklog(uint32_t connection, double* unsent, double* written) const {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return false;
  *unsent = static_cast<double>(it->second.unsent_bytes);
  *written = it->second.written_bytes;
  return true;
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
    ibv_mr* mr = api_.reg_mr(c.device->pd(), lease + kRdmaHeaderBytes, f.length, IBV_ACCESS_REMOTE_READ);
    if (!mr) break;  // retried on the next flush
    uint32_t token = c.next_token++;
    ReadRequest request{reinterpret_cast<uint64_t>(lease + kRdmaHeaderBytes), mr->rkey, f.length, token};
    if (!SendControl(c, kReadRequest, &request, sizeof request)) {
      api_.dereg_mr(mr);
      break;
    }
    c.queue.pop_front();
    Dequeued(c, f.lease_offset);
    c.exports[token] = RdmaConnection::Export{f.lease_offset, mr};
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
  std::vector<uint32_t> dirty;
  dirty.swap(dirty_);
  for (uint32_t id : dirty) {
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;
    it->second.dirty = false;
    Pump(it->second);
    MaybeFinishClose(it->second);
  }
  std::vector<uint32_t> doomed;
  doomed.swap(to_destroy_);
  for (uint32_t id : doomed) Destroy(id);
  return 0;
}

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
    while (api_.get_cm_event(cm_channel_, &event) == 0) {
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

void RdmaEngine::HandleCmEvent(rdma_cm_event* event, EventSink& sink) {
  rdma_cm_event_type type = event->event;
  if (type == RDMA_CM_EVENT_CONNECT_REQUEST) {
    uint32_t listener = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(event->listen_id->context));
    Hello hello;
    bool valid = ParseHello(event->param.conn.private_data, event->param.conn.private_data_len, &hello);
    rdma_cm_id* cm_id = event->id;
    if (!valid || !listeners_.count(listener)) {
      api_.reject(cm_id, nullptr, 0);
      api_.ack_cm_event(event);
      api_.destroy_id(cm_id);
      return;
    }
    uint32_t id = next_id_++;
    cm_id->context = reinterpret_cast<void*>(uintptr_t{id});
    RdmaConnection& c = connections_[id];
    c.id = id;
    c.cm_id = cm_id;
    c.passive = true;
    c.listener = listener;
    c.peer_slot_size = hello.slot_size;
    c.send_credits = hello.recv_depth;
    c.peer_recv_depth = hello.recv_depth;
    c.state = RdmaConnection::State::kConnecting;
    api_.ack_cm_event(event);
    try {
      SetUpQueuePair(c);
    } catch (const SysError&) {
      api_.reject(cm_id, nullptr, 0);
      c.reported = true;
      BeginClose(c);
      return;
    }
    Hello mine{kRdmaHelloMagic, kRdmaVersion, static_cast<uint16_t>(c.recv_depth),
               static_cast<uint32_t>(region_->slot_size())};
    rdma_conn_param param{};
    param.private_data = &mine;
    param.private_data_len = sizeof mine;
    param.responder_resources = static_cast<uint8_t>(c.device->max_rd_atomic());
    param.initiator_depth = static_cast<uint8_t>(c.device->max_rd_atomic());
    param.rnr_retry_count = 7;
    if (api_.accept(cm_id, &param)) {
      c.reported = true;
      BeginClose(c);
    }
    return;
  }

  uint32_t id = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(event->id->context));
  auto it = connections_.find(id);
  if (it == connections_.end()) {
    api_.ack_cm_event(event);
    return;
  }
  RdmaConnection& c = it->second;
  Hello hello;
  bool hello_ok = ParseHello(event->param.conn.private_data, event->param.conn.private_data_len, &hello);
  api_.ack_cm_event(event);
  if (c.state == RdmaConnection::State::kClosing) {
    if (type == RDMA_CM_EVENT_DISCONNECTED) to_destroy_.push_back(id);
    return;
  }
  switch (type) {
    case RDMA_CM_EVENT_ADDR_RESOLVED:
      if (api_.resolve_route(c.cm_id, kResolveTimeoutMs)) {
        c.reported = true;
        sink.Push(Event{kEventConnected, static_cast<int32_t>(id), -errno, 0});
        BeginClose(c);
      }
      return;
    case RDMA_CM_EVENT_ROUTE_RESOLVED: {
      try {
        SetUpQueuePair(c);
      } catch (const SysError& e) {
        c.reported = true;
        sink.Push(Event{kEventConnected, static_cast<int32_t>(id), -e.err, 0});
        BeginClose(c);
        return;
      }
      Hello mine{kRdmaHelloMagic, kRdmaVersion, static_cast<uint16_t>(c.recv_depth),
                 static_cast<uint32_t>(region_->slot_size())};
      rdma_conn_param param{};
      param.private_data = &mine;
      param.private_data_len = sizeof mine;
      param.responder_resources = static_cast<uint8_t>(c.device->max_rd_atomic());
      param.initiator_depth = static_cast<uint8_t>(c.device->max_rd_atomic());
      param.retry_count = 7;
      param.rnr_retry_count = 7;
      c.state = RdmaConnection::State::kConnecting;
      if (api_.connect(c.cm_id, &param)) {
        c.reported = true;
        sink.Push(Event{kEventConnected, static_cast<int32_t>(id), -errno, 0});
        BeginClose(c);
      }
      return;
    }
    case RDMA_CM_EVENT_ESTABLISHED:
      if (!c.passive) {
        if (!hello_ok) {
          c.reported = true;
          sink.Push(Event{kEventConnected, static_cast<int32_t>(id), -EPROTO, 0});
          BeginClose(c);
          return;
        }
        c.peer_slot_size = hello.slot_size;
        c.send_credits = hello.recv_depth;
        c.peer_recv_depth = hello.recv_depth;
      }
      c.state = RdmaConnection::State::kOpen;
      c.identity = PeerIdentityOfAddress(rdma_get_peer_addr(c.cm_id));
      if (c.passive) {
        sink.Push(Event{kEventAccepted, static_cast<int32_t>(id), static_cast<int32_t>(c.listener), 0});
      } else {
        sink.Push(Event{kEventConnected, static_cast<int32_t>(id), 0, 0});
      }
      {
        std::vector<std::pair<uint32_t, uint32_t>> early;
        early.swap(c.early);
        for (auto [slot, bytes] : early) {
          if (c.state == RdmaConnection::State::kOpen) OnRecv(c, slot, bytes, sink);
          else ReturnSlot(slot);
        }
      }
      MarkDirty(c);
      return;
    case RDMA_CM_EVENT_DISCONNECTED:
      // Frames that landed before the peer left are still in the CQ: Reap() closes the
      // connection after polling it.
      c.peer_disconnected = true;
      disconnected_.push_back(id);
      return;
    case RDMA_CM_EVENT_TIMEWAIT_EXIT:
    case RDMA_CM_EVENT_CONNECT_RESPONSE:
      return;
    default:
      if (c.state == RdmaConnection::State::kOpen || c.passive) {
        Fail(c, CmErrno(type), kReasonNone, sink);
      } else {
        c.reported = true;
        sink.Push(Event{kEventConnected, static_cast<int32_t>(id), -CmErrno(type), 0});
        BeginClose(c);
      }
      return;
  }
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
      ReturnSlot(value);
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
        return c.qp_created && c.cm_id->qp == event.element.qp;
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
    ReturnSlot(slot);
    return;
  }
  const uint8_t* p = region_->slot(slot);
  RdmaMessage message;
  RdmaParse parsed = ParseRdmaMessage(p, bytes, options_.max_frame_bytes, &message);
  if (parsed == RdmaParse::kOk && !AddCredits(&c.send_credits, message.credits, c.peer_recv_depth)) {
    parsed = RdmaParse::kProtocolError;  // more credits than the peer can have posted
  }
  if (parsed != RdmaParse::kOk) {
    ReturnSlot(slot);
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
      ReturnSlot(slot);
      const ReadRequest& request = message.read;
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
      return;
    }
    case kReadDone: {
      ReturnSlot(slot);
      auto e = c.exports.find(message.token);
      if (e == c.exports.end()) {
        Fail(c, EPROTO, kReasonProtocolError, sink);
        return;
      }
      last_revoked_rkey_ = e->second.mr->rkey;
      api_.dereg_mr(e->second.mr);  // the peer's key stops working here
      stats_.keys_revoked += 1;
      FreeLease(e->second.lease_offset);
      c.exports.erase(e);
      return;
    }
    case kCredit:
      ReturnSlot(slot);
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
      sink.Push(Event{kEventFrameLease, static_cast<int32_t>(c.id), static_cast<int32_t>(in.offset + kRdmaHeaderBytes),
                      static_cast<int32_t>(in.length)});
    } else {
      batch_pins_.push_back(in.slot_or_token);  // pinned on arrival; EndBatch unpins
      sink.Push(Event{kEventFrameView, static_cast<int32_t>(c.id), static_cast<int32_t>(in.offset),
                      static_cast<int32_t>(in.length)});
    }
  }
}

// Starts the READs of waiting requests while leases are free. A request that finds no
// lease waits (its sender's lease stays exported): back-pressure, not failure.
void RdmaEngine::StartReads(RdmaConnection& c, EventSink& sink) {
  while (!c.pending_reads.empty() && c.state == RdmaConnection::State::kOpen) {
    ReadRequest request = c.pending_reads.front();
    int64_t lease = region_->AllocateLease(kRdmaHeaderBytes + size_t{request.length});
    if (lease < 0) return;
    c.pending_reads.pop_front();
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

void RdmaEngine::Fail(RdmaConnection& c, int err, CloseReason reason, EventSink& sink) {
  if (!c.reported) {
    c.reported = true;
    sink.Push(Event{kEventClosed, static_cast<int32_t>(c.id), -err, reason});
  }
  BeginClose(c);
}

void RdmaEngine::BeginClose(RdmaConnection& c) {
  if (c.state == RdmaConnection::State::kClosing) return;
  bool connected = c.state == RdmaConnection::State::kOpen || c.state == RdmaConnection::State::kConnecting;
  c.state = RdmaConnection::State::kClosing;
  if (connected) api_.disconnect(c.cm_id);
  to_destroy_.push_back(c.id);
}

void RdmaEngine::Destroy(uint32_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  RdmaConnection& c = it->second;
  if (c.qp_created) api_.destroy_qp(c.cm_id);  // the device stops touching our memory here
  if (c.device) c.device->Unreserve(c.cq_reserved);
  for (uint32_t slot : c.posted_slots) ReturnSlot(slot);
  for (size_t lease : c.sending_leases) FreeLease(lease);
  for (auto& [token, r] : c.reading) {
    FreeLease(r.lease_offset);
    for (uint32_t i = 0; i < r.in_flight; ++i) ReadChunkDone();  // their completions are ignored
  }
  for (auto& in : c.inbound) {
    if (!in.is_read) ReleaseSlot(in.slot_or_token);
    else if (in.ready) FreeLease(in.offset);
  }
  for (auto [slot, bytes] : c.early) ReturnSlot(slot);
  for (auto& [token, e] : c.exports) {
    api_.dereg_mr(e.mr);
    FreeLease(e.lease_offset);
  }
  for (auto& f : c.queue) FreeLease(f.lease_offset);
  api_.destroy_id(c.cm_id);
  connections_.erase(it);
}

int RdmaEngine::CloseConnection(uint32_t connection, bool graceful) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return -ENOTCONN;
  RdmaConnection& c = it->second;
  c.reported = true;  // a local close is not reported back
  if (graceful && c.state == RdmaConnection::State::kOpen) {
    c.close_after_send = true;
    MarkDirty(c);  // Flush() finishes the close when nothing is left
    return 0;
  }
  BeginClose(c);
  return 0;
}

void RdmaEngine::MaybeFinishClose(RdmaConnection& c) {
  if (!c.close_after_send || c.state != RdmaConnection::State::kOpen) return;
  if (c.queue.empty() && c.exports.empty() && c.sends_in_flight == 0) BeginClose(c);
}

int RdmaEngine::CloseListener(uint32_t listener) {
  auto it = listeners_.find(listener);
  if (it == listeners_.end()) return -ENOENT;
  api_.destroy_id(it->second.cm_id);
  listeners_.erase(it);
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

int RdmaEngine::HoldSlot(size_t offset) {
  if (offset >= region_->recv_area_bytes()) return -EINVAL;
  uint32_t index = static_cast<uint32_t>(offset / region_->slot_size());
  if (region_->SlotPins(index) == 0) return -EINVAL;
  region_->PinSlot(index);
  return static_cast<int>(index);
}

void RdmaEngine::ReleaseSlot(uint32_t index) {
  if (index >= region_->recv_slots() || region_->SlotPins(index) == 0) return;
  if (region_->UnpinSlot(index) == 0) ReturnSlot(index);
}

void RdmaEngine::EndBatch() {
  for (uint32_t slot : batch_pins_) ReleaseSlot(slot);
  batch_pins_.clear();
}

}  // namespace crdma
