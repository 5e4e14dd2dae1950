// UringEngine's setup and teardown (see uring_engine.h): construction, listeners and their
// multishot accepts (with back-off when accept fails), outgoing connects, closing and
// destroying connections; uring_data_path.cc is the receive path and uring_send_path.cc
// the send path. The life of a connection, as the completions drive it:
//   1. Connect(): socket + CONNECT sqe                 -> kEventConnected, recv armed
//      or a listener's multishot ACCEPT completes      -> kEventAccepted, recv armed
//   2. RECV completions (multishot, provided buffers)  -> frames (views or leases)
//   3. Send() queues a lease; Flush() sends each connection's queue with one SENDMSG
//   4. EOF from the peer (recv returns 0) after whole frames -> kEventEnded: receiving
//      stops, queued and later sends still go out (the peer half-closed, as TCP allows);
//      EOF inside a frame fails the connection (kReasonPeerClosedMidFrame).
//   5. CloseConnection(graceful)                       -> queued frames leave, then FIN
//      (SHUT_WR) and lingering: the peer's bytes are dropped until its FIN or an error
//   6. error, CloseConnection() or the end of lingering -> shutdown + cancel; when the
//      last submitted operation has completed the fd is closed and the state freed.
#include "uring/uring_engine.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "common/connection_lookup.h"
#include "common/fault_injection.h"
#include "common/sys_error.h"
#include "common/unix_bind.h"
#include "uring/ktls_socket.h"

namespace crdma {
namespace {
// Back-off of a listener whose accept fails (EMFILE...): first delay, and the cap.
constexpr uint32_t kFirstAcceptRetryMs = 10;
constexpr uint32_t kMaxAcceptRetryMs = 1000;
}

UringEngine::UringEngine(std::shared_ptr<MemoryRegion> region, const UringEngineOptions& options)
    : region_(std::move(region)), options_(options), ring_(options.ring_entries),
      buffers_(ring_, region_), reassembly_(options.max_unsent_bytes) {
  CheckNeg(ring_.Submit(), "io_uring_submit");
}

UringEngine::~UringEngine() {
  for (auto& [id, c] : connections_) {
    if (c.rx.pending_lease() >= 0) FreeLease(static_cast<size_t>(c.rx.pending_lease()));
    FreeSendLeases(c);
  }
  // Maps, buffers and ring are released by member destruction (see uring_engine.h).
}

void UringEngine::FreeLease(size_t offset) { region_->FreeLease(offset); }

uint32_t UringEngine::Listen(sockaddr_storage* addr, socklen_t* len, int backlog, unsigned unix_mode,
                             uint32_t first_frame_max) {
  UniqueFd fd(CheckSys(socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket"));
  int one = 1;
  if (addr->ss_family == AF_UNIX) {
    BindUnixSocket(fd.get(), reinterpret_cast<const sockaddr_un&>(*addr), *len, unix_mode);
  } else {
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    CheckSys(bind(fd.get(), reinterpret_cast<sockaddr*>(addr), *len), "bind");
  }
  CheckSys(listen(fd.get(), backlog), "listen");
  *len = sizeof(*addr);
  CheckSys(getsockname(fd.get(), reinterpret_cast<sockaddr*>(addr), len), "getsockname");
  uint32_t id = next_id_++;
  Listener& l = listeners_[id];
  l.id = id;
  l.fd = std::move(fd);
  l.first_frame_max = first_frame_max;
  ArmAccept(l);
  return id;
}

uint32_t UringEngine::Connect(const sockaddr_storage& addr, socklen_t len) {
  UniqueFd fd(CheckSys(socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket"));
  if (addr.ss_family != AF_UNIX) {
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  uint32_t id = next_id_++;
  UringConnection& c = connections_[id];
  c.id = id;
  c.fd = std::move(fd);
  c.peer = addr;
  c.peer_len = len;
  io_uring_sqe* sqe = ring_.Sqe();
  io_uring_prep_connect(sqe, c.fd.get(), reinterpret_cast<sockaddr*>(&c.peer), c.peer_len);
  io_uring_sqe_set_data64(sqe, Tag(kOpConnect, id));
  ++c.inflight;
  return id;
}

uint32_t UringEngine::Adopt(UniqueFd fd, bool ktls, uint32_t first_frame_max) {
  UringConnection& c = OpenConnection(std::move(fd), first_frame_max);
  c.ktls = ktls;  // read when its first send or receive completes, not before
  if (ktls) stats_.adopted_ktls += 1;
  return c.id;
}

UringConnection& UringEngine::OpenConnection(UniqueFd fd, uint32_t first_frame_max) {
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // harmless on AF_UNIX
  uint32_t id = next_id_++;
  UringConnection& c = connections_[id];
  c.id = id;
  c.fd = std::move(fd);
  c.state = UringConnection::State::kOpen;
  c.identity = ReadPeerIdentity(c.fd.get());
  c.rx.LimitFirstFrame(first_frame_max);  // the client's HELLO, when the listener says
  ArmRecv(c);
  return c;
}

std::string UringEngine::UlpOf(uint32_t connection) const {
  const UringConnection* c = FindConnection(connections_, connection);
  return c == nullptr ? "" : crdma::UlpOf(c->fd.get());
}

void UringEngine::ArmAccept(Listener& l) {
  io_uring_sqe* sqe = ring_.Sqe();
  io_uring_prep_multishot_accept(sqe, l.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, Tag(kOpAccept, l.id));
  ++l.inflight;
}

void UringEngine::OnAccept(Listener& l, int res, unsigned flags, EventSink& sink) {
  if (res >= 0 && !l.closing && FaultFires(FaultPoint::kUringAcceptAfterClose)) {
    // Test seam: JS closed the listener just before this accept was reaped, and the kernel
    // ended the multishot with it. The cancel goes out now, while the fd is still open.
    CloseListener(l.id);
    ring_.Submit();
    flags &= ~IORING_CQE_F_MORE;
  }
  bool more = flags & IORING_CQE_F_MORE;
  if (!more) --l.inflight;
  if (res >= 0) {
    UniqueFd fd(res);  // closed here unless it becomes a connection
    if (!l.closing) {
      l.retry_ms = 0;  // accepting again: a later failure is a new episode, reported again
      AddAccepted(l, std::move(fd), sink);
    }
  } else if (!l.closing && res != -ECANCELED) {
    stats_.accept_errors += 1;
    if (l.retry_ms == 0) sink.Push(Event{kEventListenerError, static_cast<int32_t>(l.id), res, 0});
  }
  if (l.closing) {
    if (l.inflight == 0) listeners_.erase(l.id);
    return;
  }
  if (more) return;
  // io_uring's accept takes the fd before it waits for a client, so at the fd limit
  // (EMFILE, ENFILE) or out of memory it fails at once, client or not: re-armed at once it
  // would spin a core. Back off, doubling up to kMaxAcceptRetryMs; a success resets it.
  if (res < 0 && res != -ECANCELED) RetryAcceptLater(l);
  else ArmAccept(l);
}

void UringEngine::AddAccepted(Listener& l, UniqueFd fd, EventSink& sink) {
  uint32_t id = OpenConnection(std::move(fd), l.first_frame_max).id;
  sink.Push(Event{kEventAccepted, static_cast<int32_t>(id), static_cast<int32_t>(l.id), 0});
}

void UringEngine::RetryAcceptLater(Listener& l) {
  l.retry_ms = l.retry_ms == 0 ? kFirstAcceptRetryMs : std::min(l.retry_ms * 2, kMaxAcceptRetryMs);
  l.retry_at = __kernel_timespec{static_cast<int64_t>(l.retry_ms / 1000), static_cast<long long>(l.retry_ms % 1000) * 1'000'000};
  io_uring_sqe* sqe = ring_.Sqe();
  io_uring_prep_timeout(sqe, &l.retry_at, 0, 0);
  io_uring_sqe_set_data64(sqe, Tag(kOpAcceptRetry, l.id));
  ++l.inflight;
  l.retry_pending = true;
}

void UringEngine::OnAcceptRetry(Listener& l) {
  --l.inflight;
  l.retry_pending = false;
  if (l.closing) {
    if (l.inflight == 0) listeners_.erase(l.id);
    return;
  }
  ArmAccept(l);
}

void UringEngine::OnConnect(UringConnection& c, int res, EventSink& sink) {
  --c.inflight;
  if (c.state == UringConnection::State::kClosing) return;
  if (res < 0) {
    c.reported = true;
    sink.Push(Event{kEventConnected, static_cast<int32_t>(c.id), res, 0});
    BeginClose(c);
    return;
  }
  c.state = UringConnection::State::kOpen;
  c.identity = ReadPeerIdentity(c.fd.get());
  ArmRecv(c);
  MarkDirty(c);  // frames queued while connecting
  sink.Push(Event{kEventConnected, static_cast<int32_t>(c.id), 0, 0});
}

void UringEngine::Fail(UringConnection& c, int err, CloseReason reason, EventSink& sink) {
  if (!c.reported) {
    c.reported = true;
    sink.Push(Event{kEventClosed, static_cast<int32_t>(c.id), -err, reason});
  }
  BeginClose(c);
}

void UringEngine::BeginClose(UringConnection& c) {
  if (c.state == UringConnection::State::kClosing) return;
  c.state = UringConnection::State::kClosing;
  shutdown(c.fd.get(), SHUT_RDWR);
  if (c.inflight > 0) {
    io_uring_sqe* sqe = ring_.Sqe();
    io_uring_prep_cancel_fd(sqe, c.fd.get(), IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, Tag(kOpCancel, c.id));
  }
  DropReceiveState(c);
  FreeQueuedSends(c);
  c.unsent_bytes = 0;
}

void UringEngine::BeginLinger(UringConnection& c) {
  if (c.state != UringConnection::State::kOpen || c.receive == ReceiveState::kEnded) {
    BeginClose(c);  // nothing more will come from a peer that ended
    return;
  }
  c.state = UringConnection::State::kLingering;
  shutdown(c.fd.get(), SHUT_WR);
  DropReceiveState(c);
  c.receive = Unpause(c.receive);
  if (c.receive == ReceiveState::kIdle) ArmRecv(c);  // kStarved: Flush() arms it
}

void UringEngine::DropReceiveState(UringConnection& c) {
  if (c.rx.pending_lease() >= 0) {
    FreeLease(static_cast<size_t>(c.rx.pending_lease()));
    c.rx.DropPendingLease();
  }
  if (reassembly_.Return(c.id)) WakeShareWaiters();
  c.waits_for_share = false;
  for (const UringConnection::Pending& p : c.backlog) {
    if (p.bid != UringConnection::kEndOfStream) ReleaseSlot(p.bid);
  }
  c.backlog.clear();
}

void UringEngine::MaybeDestroy(uint32_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  UringConnection& c = it->second;
  if (c.state != UringConnection::State::kClosing || c.inflight > 0) return;
  if (c.rx.pending_lease() >= 0) FreeLease(static_cast<size_t>(c.rx.pending_lease()));
  FreeSendLeases(c);
  connections_.erase(it);  // closes the fd
}

const PeerIdentity* UringEngine::PeerOf(uint32_t connection) const {
  const UringConnection* c = FindConnection(connections_, connection);
  return c == nullptr ? nullptr : &c->identity;
}

int UringEngine::CloseConnection(uint32_t connection, bool graceful) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return -ENOTCONN;
  UringConnection& c = it->second;
  c.reported = true;  // a local close is not reported back
  bool unsent = !c.queued_iov.empty() || c.send_inflight;
  bool sending = c.state == UringConnection::State::kOpen || c.state == UringConnection::State::kConnecting;
  if (graceful && unsent && sending) {
    c.close_after_send = true;  // SendProgress lingers once the last queued frame left
    MarkDirty(c);
    return 0;
  }
  if (graceful && c.state == UringConnection::State::kOpen) {
    BeginLinger(c);
    // A peer that already ended is not waited for: closed at once.
    if (c.state == UringConnection::State::kClosing) closing_.push_back(connection);
    return 0;
  }
  BeginClose(c);
  closing_.push_back(connection);  // destroyed by Flush(), never under a running Reap()
  return 0;
}

int UringEngine::CloseListener(uint32_t listener) {
  auto it = listeners_.find(listener);
  if (it == listeners_.end()) return -ENOENT;
  Listener& l = it->second;
  if (l.closing) return 0;
  l.closing = true;
  shutdown(l.fd.get(), SHUT_RDWR);
  if (l.retry_pending) {  // a back-off timer: not an operation on the fd
    io_uring_sqe* sqe = ring_.Sqe();
    io_uring_prep_timeout_remove(sqe, Tag(kOpAcceptRetry, l.id), 0);
    io_uring_sqe_set_data64(sqe, Tag(kOpCancel, l.id));
  }
  if (l.inflight > (l.retry_pending ? 1 : 0)) {
    io_uring_sqe* sqe = ring_.Sqe();
    io_uring_prep_cancel_fd(sqe, l.fd.get(), IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, Tag(kOpCancel, l.id));
  }
  if (l.inflight == 0) {
    listeners_.erase(it);
  }
  return 0;
}

int UringEngine::HoldSlot(size_t offset) { return region_->HoldReceivedSlot(offset); }

void UringEngine::ReleaseSlot(uint32_t index) {
  if (region_->ReleaseSlotPin(index)) buffers_.Recycle(static_cast<uint16_t>(index));
}

}  // namespace crdma
