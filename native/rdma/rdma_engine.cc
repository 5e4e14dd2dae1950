// RdmaEngine's setup and teardown (see rdma_engine.h): construction, listeners and
// outgoing connections, the queue pair of a connection, the receive slots the engine
// lends to queue pairs, and closing and destroying connections. The life of a connection:
//   1. active side: ADDR_RESOLVED -> ROUTE_RESOLVED -> queue pair + posted receives ->
//      rdma_connect(Hello); passive side: CONNECT_REQUEST(Hello) -> queue pair + posted
//      receives -> rdma_accept(Hello)   (rdma_cm_events.cc)
//   2. ESTABLISHED: each side's first credits = the receives the other posted
//   3. frames: SEND (fits a slot) or READ_REQUEST -> RDMA READ -> READ_DONE (large)
//      (rdma_data_path.cc)
//   4. DISCONNECTED / error / close: queue pair destroyed, then every slot and lease it
//      held returned; the rdma_cm id destroyed after its last event was acknowledged.
#include "rdma/rdma_engine.h"

#include <cstring>

#include "common/sys_error.h"

namespace crdma {
namespace {

constexpr int kResolveTimeoutMs = 2000;

}  // namespace

RdmaEngine::RdmaEngine(const VerbsApi& api, std::shared_ptr<MemoryRegion> region, const RdmaEngineOptions& options,
                       std::function<int(int)> on_new_fd)
    : api_(api), region_(std::move(region)), options_(options), on_new_fd_(std::move(on_new_fd)), cm_channel_(api),
      read_share_(options.max_unsent_bytes) {
  free_slots_.reserve(region_->recv_slots());
  for (uint32_t i = region_->recv_slots(); i > 0; --i) free_slots_.push_back(i - 1);
  if (int rc = on_new_fd_(cm_channel_.fd()); rc < 0) throw SysError{-rc, "uv_poll_init (rdma_cm channel)"};
}

RdmaEngine::~RdmaEngine() {
  std::vector<uint32_t> ids;
  for (auto& [id, c] : connections_) ids.push_back(id);
  for (uint32_t id : ids) Destroy(id);
  // Then the members: listeners' ids, device resources, the event channel (rdma_engine.h).
}

int RdmaEngine::cm_fd() const { return cm_channel_.fd(); }

void RdmaEngine::FdReadable(int fd) {
  if (fd == cm_channel_.fd()) {
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

void RdmaEngine::RecycleSlot(uint32_t slot) {
  region_->PoisonIfEnabled(region_->slot(slot), region_->slot_size());
  free_slots_.push_back(slot);
}

DeviceResources& RdmaEngine::DeviceFor(ibv_context* context) {
  auto it = devices_.find(context);
  if (it != devices_.end()) return *it->second;
  auto device = std::make_unique<DeviceResources>(api_, context, region_);
  // A completion channel nobody watches would leave its connections waiting forever.
  if (int rc = on_new_fd_(device->completion_fd()); rc < 0) throw SysError{-rc, "uv_poll_init (completion channel)"};
  DeviceResources& ref = *device;
  devices_.emplace(context, std::move(device));
  return ref;
}

uint32_t RdmaEngine::Listen(sockaddr_storage* addr, int backlog) {
  uint32_t id = next_id_++;
  rdma_cm_id* cm_id = nullptr;
  if (api_.create_id(cm_channel_.get(), &cm_id, reinterpret_cast<void*>(uintptr_t{id}), RDMA_PS_TCP)) {
    throw SysError{errno, "rdma_create_id"};
  }
  CmId owned(api_, cm_id);
  if (api_.bind_addr(cm_id, reinterpret_cast<sockaddr*>(addr)) || api_.listen(cm_id, backlog)) {
    throw SysError{errno, "rdma_listen"};
  }
  uint16_t port = api_.get_src_port(cm_id);  // network order
  if (addr->ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(addr)->sin_port = port;
  else reinterpret_cast<sockaddr_in6*>(addr)->sin6_port = port;
  if (cm_id->verbs) DeviceFor(cm_id->verbs);  // bound to one device's address
  listeners_.emplace(id, RdmaListener{id, std::move(owned)});
  return id;
}

uint32_t RdmaEngine::Connect(const sockaddr_storage& remote, const sockaddr_storage* local) {
  uint32_t id = next_id_++;
  rdma_cm_id* cm_id = nullptr;
  if (api_.create_id(cm_channel_.get(), &cm_id, reinterpret_cast<void*>(uintptr_t{id}), RDMA_PS_TCP)) {
    throw SysError{errno, "rdma_create_id"};
  }
  CmId owned(api_, cm_id);
  sockaddr_storage dst = remote;
  sockaddr_storage src;
  if (local) src = *local;
  if (api_.resolve_addr(cm_id, local ? reinterpret_cast<sockaddr*>(&src) : nullptr,
                        reinterpret_cast<sockaddr*>(&dst), kResolveTimeoutMs)) {
    throw SysError{errno, "rdma_resolve_addr"};
  }
  RdmaConnection& c = connections_[id];
  c.id = id;
  c.cm_id = std::move(owned);
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
  if (c.cm_id.CreateQp(device.pd(), &attr)) {
    attr.cap.max_inline_data = 0;  // provider without inline sends
    if (c.cm_id.CreateQp(device.pd(), &attr)) throw SysError{errno, "rdma_create_qp"};
  }
  device.set_max_inline(attr.cap.max_inline_data);
  uint32_t posted = 0;
  while (posted < c.recv_depth && PostRecv(c)) ++posted;
  // Fewer than 2 receives can never carry a frame (a sender keeps its last credit for
  // CREDIT messages): refuse the connection rather than accept one that hangs.
  if (posted < 2) throw SysError{ENOBUFS, "ibv_post_recv (no free receive slots in the region)"};
  c.recv_depth = posted;  // what we advertise and keep posted: exactly what is posted now
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
  if (connected) api_.disconnect(c.cm_id.get());
  to_destroy_.push_back(c.id);
}

void RdmaEngine::Destroy(uint32_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  RdmaConnection& c = it->second;
  c.cm_id.DestroyQp();  // the device stops touching our memory here
  if (c.device) c.device->Unreserve(c.cq_reserved);
  for (uint32_t slot : c.posted_slots) RecycleSlot(slot);
  for (size_t lease : c.sending_leases) FreeLease(lease);
  for (auto& [token, r] : c.reading) {
    UncountReadTarget(c, token, r.lease_offset);
    FreeLease(r.lease_offset);
    for (uint32_t i = 0; i < r.in_flight; ++i) ReadChunkDone();  // their completions are ignored
  }
  for (auto& in : c.inbound) {
    if (!in.is_read) ReleaseSlot(in.slot_or_token);
    else if (in.ready) {
      UncountReadTarget(c, in.slot_or_token, in.offset);
      FreeLease(in.offset);
    }
  }
  for (auto [slot, bytes] : c.early) RecycleSlot(slot);
  for (auto& [token, e] : c.exports) {
    e.mr.Reset();  // the key is revoked before its lease can be handed out again
    FreeLease(e.lease_offset);
  }
  for (auto& f : c.queue) FreeLease(f.lease_offset);
  connections_.erase(it);  // and its rdma_cm id
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
  listeners_.erase(it);  // destroys its rdma_cm id
  return 0;
}

int RdmaEngine::HoldSlot(size_t offset) { return region_->HoldReceivedSlot(offset); }

void RdmaEngine::ReleaseSlot(uint32_t index) {
  if (region_->ReleaseSlotPin(index)) RecycleSlot(index);
}

}  // namespace crdma
