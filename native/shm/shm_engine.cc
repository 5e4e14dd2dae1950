// ShmEngine's setup and teardown (see shm_engine.h): construction, listeners, connect,
// accept and the rendezvous (Hello, Reply, its timeout), the epoll dispatch, closing and
// failing connections. shm_data_path.cc is the data path.
#include "shm/shm_engine.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <vector>

#include "common/connection_lookup.h"
#include "common/cpu_relax.h"
#include "common/sys_error.h"
#include "common/unix_bind.h"
#include "shm/rendezvous.h"

namespace crdma::shm {
namespace {
constexpr uint32_t kTagWake = 1, kTagListener = 2, kTagConnection = 3, kTagRendezvousTimer = 4;

uint64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}
struct Reply {
  uint32_t magic;
  uint32_t version;
};

sockaddr_un UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) throw SysError{ENAMETOOLONG, "unix socket path"};
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}
}  // namespace

ShmEngine::ShmEngine(std::shared_ptr<MemoryRegion> region, const ShmOptions& options)
    : region_(std::move(region)), options_(options) {
  if (!ValidCapacity(options_.ring_bytes)) throw SysError{EINVAL, "shm ring size"};
  epoll_ = UniqueFd(CheckSys(epoll_create1(EPOLL_CLOEXEC), "epoll_create1"));
  wake_ = UniqueFd(CheckSys(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd"));
  AddToEpoll(wake_.get(), Tag(kTagWake, 0));
  rendezvous_timer_ = UniqueFd(CheckSys(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), "timerfd_create"));
  AddToEpoll(rendezvous_timer_.get(), Tag(kTagRendezvousTimer, 0));
}

ShmEngine::~ShmEngine() {
  for (auto& [id, c] : connections_) FreeQueued(*c);
}

void ShmEngine::FreeQueued(ShmConnection& c) {
  for (const QueuedSend& q : c.queued) {
    if (q.lease_offset != kNoLease) region_->FreeLease(q.lease_offset);
  }
  c.queued.clear();
}

void ShmEngine::AddToEpoll(int fd, uint64_t tag) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = tag;
  CheckSys(epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev), "epoll_ctl");
}

uint32_t ShmEngine::Listen(const std::string& path, int backlog, unsigned mode, Admission admission) {
  sockaddr_un addr = UnixAddress(path);
  UniqueFd fd(CheckSys(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket"));
  BindUnixSocket(fd.get(), addr, sizeof addr, mode);
  CheckSys(listen(fd.get(), backlog), "listen");
  uint32_t id = next_id_++;
  AddToEpoll(fd.get(), Tag(kTagListener, id));
  listeners_.emplace(id, std::move(fd));
  if (admission.restricted) admissions_.emplace(id, std::move(admission));
  return id;
}

uint32_t ShmEngine::Connect(const std::string& path) {
  sockaddr_un addr = UnixAddress(path);
  UniqueFd fd(CheckSys(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), "socket"));
  CheckSys(connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), "connect");
  if (options_.same_user_only && PeerUid(fd.get()) != static_cast<long>(geteuid())) {
    throw SysError{EPERM, "connect (shm:// peer runs as another user)"};
  }
  uint32_t id = next_id_++;
  AddToEpoll(fd.get(), Tag(kTagConnection, id));
  auto c = std::make_unique<ShmConnection>(id, 1, std::move(fd));
  c->identity = ReadPeerIdentity(c->socket.get());
  connections_.emplace(id, std::move(c));
  return id;
}

void ShmEngine::Accept(uint32_t listener, EventSink& sink) {
  auto it = listeners_.find(listener);
  if (it == listeners_.end()) return;
  for (;;) {
    int raw = accept4(it->second.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (raw < 0) return;
    UniqueFd fd(raw);
    if (options_.same_user_only && PeerUid(fd.get()) != static_cast<long>(geteuid())) {
      stats_.rejected_peers++;
      continue;
    }
    // Admission first: a refused peer must never receive the region's memfd.
    PeerIdentity identity = ReadPeerIdentity(fd.get());
    if (auto admission = admissions_.find(listener); admission != admissions_.end() && !admission->second.Admits(identity)) {
      stats_.refused_peers++;
      sink.Push({kEventRefused, static_cast<int32_t>(listener), 0, 0});
      continue;
    }
    if (pending_rendezvous_ >= kMaxPendingRendezvous) {
      stats_.rendezvous_refused++;
      continue;
    }
    try {
      auto mapping = ShmMapping::Create(RegionBytes(options_.ring_bytes));
      Hello hello{kMagic, kVersion, options_.ring_bytes};
      int fds[2] = {mapping->fd(), wake_.get()};
      if (SendWithFds(fd.get(), &hello, sizeof hello, fds, 2) != static_cast<ssize_t>(sizeof hello)) continue;
      mapping->DropFd();
      uint32_t id = next_id_++;
      AddToEpoll(fd.get(), Tag(kTagConnection, id));
      auto c = std::make_unique<ShmConnection>(id, 0, std::move(fd));
      c->identity = identity;
      c->mapping = std::move(mapping);
      c->listener = listener;
      c->state = ShmConnection::State::kAwaitReply;
      RendezvousStarted(*c);
      connections_.emplace(id, std::move(c));
    } catch (const SysError&) {
      // Out of memory or fds for this peer: it sees the socket close; others go on.
    }
  }
}

void ShmEngine::Establish(ShmConnection& c) {
  uint8_t* base = c.mapping->base();
  uint64_t cap = (c.mapping->size() - kControlBytes) / 2;
  uint32_t max_in = static_cast<uint32_t>(std::min<uint64_t>(options_.max_frame_bytes, cap / 2));
  c.reader.emplace(RingOf(base, cap, 1 - c.side), max_in);
  c.writer.emplace(RingOf(base, cap, c.side));
  c.state = ShmConnection::State::kOpen;
}

void ShmEngine::OnHello(ShmConnection& c, EventSink& sink) {
  Hello hello{};
  UniqueFd fds[2];
  int received = 0;
  ssize_t n = RecvWithFds(c.socket.get(), &hello, sizeof hello, fds, 2, &received);
  if (n == -EAGAIN) return;
  int err = 0;
  // EOF before the Hello: the server closed the rendezvous without a region (its
  // admission refused us, or too many rendezvous were pending): ECONNREFUSED.
  if (n <= 0) err = n == 0 ? ECONNREFUSED : static_cast<int>(-n);
  else if (n != sizeof hello || hello.magic != kMagic || hello.version != kVersion || received != 2 ||
           !ValidCapacity(hello.capacity) || !IsEventFd(fds[1].get())) {
    err = EPROTO;
  }
  if (err == 0) {
    try {
      c.mapping = ShmMapping::Adopt(std::move(fds[0]), RegionBytes(hello.capacity));
      c.mapping->DropFd();
    } catch (const SysError& e) {
      err = e.err;
    }
  }
  if (err == 0) {
    Reply reply{kMagic, kVersion};
    int wake = wake_.get();
    if (SendWithFds(c.socket.get(), &reply, sizeof reply, &wake, 1) != static_cast<ssize_t>(sizeof reply)) err = EPIPE;
  }
  if (err != 0) {
    sink.Push({kEventConnected, static_cast<int32_t>(c.id), -err, 0});
    Kill(c);
    return;
  }
  c.peer_wake = std::move(fds[1]);
  Establish(c);
  sink.Push({kEventConnected, static_cast<int32_t>(c.id), 0, 0});
}

void ShmEngine::OnReply(ShmConnection& c, EventSink& sink) {
  Reply reply{};
  UniqueFd fds[1];
  int received = 0;
  ssize_t n = RecvWithFds(c.socket.get(), &reply, sizeof reply, fds, 1, &received);
  if (n == -EAGAIN) return;
  RendezvousEnded();  // answered, wrongly or rightly, or gone
  if (n != sizeof reply || reply.magic != kMagic || reply.version != kVersion || received != 1 ||
      !IsEventFd(fds[0].get())) {
    // Never reported: JS never saw this connection.
    if (n > 0) stats_.protocol_errors++;
    Kill(c);
    return;
  }
  c.peer_wake = std::move(fds[0]);
  Establish(c);
  sink.Push({kEventAccepted, static_cast<int32_t>(c.id), static_cast<int32_t>(c.listener), 0});
}

void ShmEngine::OnSocket(ShmConnection& c, uint32_t events, EventSink& sink) {
  if (c.state == ShmConnection::State::kAwaitHello) return OnHello(c, sink);
  if (c.state == ShmConnection::State::kAwaitReply) return OnReply(c, sink);
  if (!c.open()) return;
  char byte;
  ssize_t n = recv(c.socket.get(), &byte, 1, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN) || (events & (EPOLLHUP | EPOLLERR))) {
    c.peer_gone = true;  // the ring is drained before the end is reported (ReadRing)
  } else if (n > 0) {
    Fail(c, EPROTO, kReasonProtocolError, sink);  // nothing may follow the handshake
  }
}

void ShmEngine::ReadIo(EventSink& sink) {
  io_ready_ = false;
  epoll_event events[64];
  int n = epoll_wait(epoll_.get(), events, 64, 0);
  for (int i = 0; i < n; ++i) {
    uint32_t kind = static_cast<uint32_t>(events[i].data.u64 >> 32);
    uint32_t id = static_cast<uint32_t>(events[i].data.u64);
    if (kind == kTagWake) {
      uint64_t count;
      if (read(wake_.get(), &count, sizeof count) > 0) stats_.wakeups++;
    } else if (kind == kTagRendezvousTimer) {
      uint64_t ticks;
      if (read(rendezvous_timer_.get(), &ticks, sizeof ticks) > 0) SweepRendezvous();
    } else if (kind == kTagListener) {
      Accept(id, sink);
    } else {
      auto it = connections_.find(id);
      if (it != connections_.end()) OnSocket(*it->second, events[i].events, sink);
    }
  }
  if (n == 64) io_ready_ = true;
}

void ShmEngine::Fail(ShmConnection& c, int err, CloseReason reason, EventSink& sink) {
  if (!c.open()) return;
  sink.Push({kEventClosed, static_cast<int32_t>(c.id), -err, reason});
  Kill(c);
}

// The timer ticks (a tenth of the timeout, at least every 10 ms, at most every second)
// only while some accepted peer has not answered yet.
void ShmEngine::RendezvousStarted(ShmConnection& c) {
  c.rendezvous_deadline_ms = NowMs() + options_.rendezvous_timeout_ms;
  if (pending_rendezvous_++ > 0) return;
  uint64_t tick = std::clamp<uint64_t>(options_.rendezvous_timeout_ms / 10, 10, 1000);
  itimerspec spec{};
  spec.it_interval.tv_sec = static_cast<time_t>(tick / 1000);
  spec.it_interval.tv_nsec = static_cast<long>((tick % 1000) * 1000000);
  spec.it_value = spec.it_interval;
  timerfd_settime(rendezvous_timer_.get(), 0, &spec, nullptr);
}

void ShmEngine::RendezvousEnded() {
  if (pending_rendezvous_ == 0 || --pending_rendezvous_ > 0) return;
  itimerspec off{};
  timerfd_settime(rendezvous_timer_.get(), 0, &off, nullptr);
}

// Closes accepted peers past their rendezvous deadline (JS never saw them: nothing to report).
void ShmEngine::SweepRendezvous() {
  uint64_t now = NowMs();
  for (auto& [id, c] : connections_) {
    if (c->state != ShmConnection::State::kAwaitReply || c->rendezvous_deadline_ms > now) continue;
    stats_.rendezvous_timeouts++;
    RendezvousEnded();
    Kill(*c);
  }
}

void ShmEngine::Kill(ShmConnection& c) {
  FreeQueued(c);
  c.unsent_bytes = 0;
  c.state = ShmConnection::State::kDead;
}

size_t ShmEngine::active() const {
  size_t n = listeners_.size();
  for (auto& [id, c] : connections_) n += c->state != ShmConnection::State::kDead;
  return n;
}

int ShmEngine::CloseConnection(uint32_t connection, bool graceful) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return -ENOTCONN;
  ShmConnection& c = *it->second;
  if (c.state == ShmConnection::State::kDead) return 0;
  if (graceful && c.open()) {
    c.state = ShmConnection::State::kClosing;
    return 0;
  }
  Kill(c);
  return 0;
}

int ShmEngine::CloseListener(uint32_t listener) {
  admissions_.erase(listener);
  return listeners_.erase(listener) ? 0 : -ENOENT;
}

const ShmConnection* ShmEngine::FindOpen(uint32_t connection) const {
  const ShmConnection* c = FindConnection(connections_, connection);
  return c != nullptr && c->open() ? c : nullptr;
}

const PeerIdentity* ShmEngine::PeerOf(uint32_t connection) const {
  const ShmConnection* c = FindOpen(connection);
  return c == nullptr ? nullptr : &c->identity;
}

}  // namespace crdma::shm
