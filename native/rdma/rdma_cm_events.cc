// RdmaEngine: the connection manager's events (see rdma_engine.cc for a connection's
// life). Every event is acknowledged here before anything that could destroy its id.
#include <cstring>

#include "common/sys_error.h"
#include "rdma/rdma_engine.h"

namespace crdma {
namespace {

constexpr int kResolveTimeoutMs = 2000;

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

// Our HELLO (receives posted, slot size) and the retry policy: transport retries (which
// rdma_accept ignores) and RNR retries both at 7 — for RNR, 7 means "retry forever": the
// credits keep a sender below the posted receives, so an RNR NAK is a lost packet's echo
// (docs/SOFTROCE.md), not a reason to fail the connection.
void RdmaEngine::FillConnParam(const RdmaConnection& c, ConnParam* out) const {
  out->hello = Hello{kRdmaHelloMagic, kRdmaVersion, static_cast<uint16_t>(c.recv_depth),
                     static_cast<uint32_t>(region_->slot_size())};
  out->param = rdma_conn_param{};
  out->param.private_data = &out->hello;
  out->param.private_data_len = sizeof out->hello;
  out->param.responder_resources = static_cast<uint8_t>(c.device->max_rd_atomic());
  out->param.initiator_depth = static_cast<uint8_t>(c.device->max_rd_atomic());
  out->param.retry_count = 7;
  out->param.rnr_retry_count = 7;
}

void RdmaEngine::HandleCmEvent(rdma_cm_event* event, EventSink& sink) {
  rdma_cm_event_type type = event->event;
  if (type == RDMA_CM_EVENT_CONNECT_REQUEST) {
    uint32_t listener = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(event->listen_id->context));
    Hello hello;
    bool valid = ParseHello(event->param.conn.private_data, event->param.conn.private_data_len, &hello);
    rdma_cm_id* cm_id = event->id;
    if (!valid || !listeners_.count(listener)) {
      CmId refused(api_, cm_id);  // destroyed on return, after the event's acknowledgement
      api_.reject(cm_id, nullptr, 0);
      api_.ack_cm_event(event);
      return;
    }
    uint32_t id = next_id_++;
    cm_id->context = reinterpret_cast<void*>(uintptr_t{id});
    RdmaConnection& c = connections_[id];
    c.id = id;
    c.cm_id = CmId(api_, cm_id);
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
    ConnParam mine;
    FillConnParam(c, &mine);
    if (api_.accept(cm_id, &mine.param)) {
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
      if (api_.resolve_route(c.cm_id.get(), kResolveTimeoutMs)) {
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
      ConnParam mine;
      FillConnParam(c, &mine);
      c.state = RdmaConnection::State::kConnecting;
      if (api_.connect(c.cm_id.get(), &mine.param)) {
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
      c.identity = PeerIdentityOfAddress(rdma_get_peer_addr(c.cm_id.get()));
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
          else RecycleSlot(slot);
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

}  // namespace crdma
