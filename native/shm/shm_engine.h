// ShmEngine: the shm:// engine — connections between processes of one host over a
// shared memfd region per connection (shm_ring.h), set up on a Unix socket
// (rendezvous.h), driven on Node's loop by EngineDriver through DrivenEngine.
// Plain C++ (no napi.h).
//
// One epoll fd is what the loop watches: it holds our wake eventfd, the listening
// sockets and every connection's socket. Reap() scans the rings without a syscall (spin
// mode polls them) and reads the epoll set only when the loop saw it readable.
// Waiting (docs/CHANNELS.md §5): before the loop blocks (CompletionsReady) we set our
// sleep word in every connection's region; a peer that published into a ring while the
// word is set writes our eventfd. Flush clears the words again.
//
// Send: JS writes a frame straight into the ring (ReserveInPlace/CommitInPlace: no copy)
// when the ring has room and nothing waits before it; else the frame is copied from its
// lease into the ring (one copy), queued until room comes. A frame is read in place: JS gets a view into the mapping's ArrayBuffer, the ring space comes back after
// the batch (EndBatch) unless JS holds it (HoldFrame).
//
// Destruction order (members in acquisition order): connections (each closes its socket
// last), listeners, our eventfd, the epoll fd, then our share of the lease region.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/driven_engine.h"
#include "common/unique_fd.h"
#include "region/memory_region.h"
#include "shm/rendezvous.h"
#include "shm/shm_connection.h"

namespace crdma::shm {

struct ShmOptions {
  uint64_t ring_bytes = 8u << 20;  // per direction, a power of two
  uint32_t max_frame_bytes = 4u << 20;
  bool same_user_only = true;
  // An accepted peer that has not answered the rendezvous within this time is closed; at
  // most kMaxPendingRendezvous accepted peers may be waiting at once (more are closed at
  // accept): a peer that connects and stays silent costs a bounded set of fds and regions.
  uint32_t rendezvous_timeout_ms = 10000;
};

constexpr uint32_t kMaxPendingRendezvous = 64;

struct ShmStats {
  double frames_in = 0, frames_out = 0, wakes_sent = 0, wakeups = 0;
  double bytes_in = 0, bytes_out = 0;  // bytes of those frames
  double frames_in_place = 0;  // frames JS wrote straight into a ring (no copy on send)
  double send_copies = 0;      // frames copied into a ring (from a lease, or moved: see CommitInPlace)
  double rejected_peers = 0, protocol_errors = 0;
  double refused_peers = 0;  // accepted peers a listener's Admission refused (before the rendezvous)
  double rendezvous_timeouts = 0;  // accepted peers closed for not answering the rendezvous in time
  double rendezvous_refused = 0;   // accepted peers closed at once: kMaxPendingRendezvous were waiting
};

class ShmEngine : public DrivenEngine {
 public:
  ShmEngine(std::shared_ptr<MemoryRegion> region, const ShmOptions& options);  // throws SysError
  ~ShmEngine() override;
  ShmEngine(const ShmEngine&) = delete;
  ShmEngine& operator=(const ShmEngine&) = delete;

  // `mode`: the rendezvous socket file's permissions (BindUnixSocket); `admission`: who
  // may connect (a refused peer is closed at accept, before any fd is sent, and reported
  // as kEventRefused). Throws SysError.
  uint32_t Listen(const std::string& path, int backlog, unsigned mode, Admission admission);
  uint32_t Connect(const std::string& path);              // throws SysError

  int Send(uint32_t connection, size_t lease_offset, uint32_t length);
  // In place (docs/CHANNELS.md §5.2, "Send"): reserves a record for `length` bytes in the
  // connection's outgoing ring for JS to write itself; the body's offset in the mapping,
  // or -1 when JS should take a lease instead (no room now, frames queued, a record open
  // already, the connection not open).
  double ReserveInPlace(uint32_t connection, uint32_t length);
  // The record reserved at `offset` becomes a frame of `length` bytes. 0 or -errno.
  int CommitInPlace(uint32_t connection, size_t offset, uint32_t length);
  // The record reserved at `offset` is dropped (its lease was released unsent).
  void AbandonInPlace(uint32_t connection, size_t offset);
  int CloseConnection(uint32_t connection, bool graceful);
  int CloseListener(uint32_t listener);
  int HoldSlot(size_t) { return -ENOTSUP; }  // frames are held with HoldFrame
  void ReleaseSlot(uint32_t) {}
  bool SendBacklog(uint32_t connection, double* unsent, double* written) const;
  // The rendezvous socket's peer (read at accept/connect); nullptr for a connection not open.
  const PeerIdentity* PeerOf(uint32_t connection) const;

  // Keeps the frame at `offset` of the connection's mapping beyond the batch; returns a
  // token for ReleaseFrame (>= 0) or -errno.
  double HoldFrame(uint32_t connection, size_t offset);
  void ReleaseFrame(uint32_t connection, double token);
  // The mapping of an open connection, once (the one ArrayBuffer over it); else null.
  std::shared_ptr<ShmMapping> TakeMapping(uint32_t connection);

  int Flush() override;
  void FlushSends() override;
  int Reap(EventSink& sink) override;
  void EndBatch() override;
  void SpinStep() override;
  bool CompletionsReady() override;
  void WakeSoon() override;
  size_t active() const override;

  int poll_fd() const { return epoll_.get(); }
  // The loop saw the epoll fd readable: the next Reap reads it.
  void MarkIoReady() { io_ready_ = true; }
  const ShmStats& stats() const { return stats_; }

 private:
  static uint64_t Tag(uint32_t kind, uint32_t id) { return (uint64_t{kind} << 32) | id; }
  void AddToEpoll(int fd, uint64_t tag);
  void ReadIo(EventSink& sink);
  void Accept(uint32_t listener, EventSink& sink);
  void OnSocket(ShmConnection& c, uint32_t events, EventSink& sink);
  void OnHello(ShmConnection& c, EventSink& sink);
  void OnReply(ShmConnection& c, EventSink& sink);
  // Rendezvous deadlines: a timerfd in the epoll set ticks while accepted peers wait.
  void RendezvousStarted(ShmConnection& c);
  void RendezvousEnded();
  void SweepRendezvous();
  void Establish(ShmConnection& c);
  // Reads the connection's ring; returns records seen.
  int ReadRing(ShmConnection& c, EventSink& sink);
  void Fail(ShmConnection& c, int err, CloseReason reason, EventSink& sink);
  void SendQueued(ShmConnection& c);
  // Reads the peer's tail; false (the connection failed with EPROTO, reported at the next
  // Reap) when it is out of bounds.
  bool RefreshTail(ShmConnection& c);
  void WakePeerIfAsleep(ShmConnection& c);
  void GiveBack(ShmConnection& c);
  void Kill(ShmConnection& c);
  void FreeQueued(ShmConnection& c);  // frees queued leases; destroyed at the next Flush
  // The connection JS asks about (PeerOf, SendBacklog) while it is open; else nullptr.
  const ShmConnection* FindOpen(uint32_t connection) const;

  std::shared_ptr<MemoryRegion> region_;
  ShmOptions options_;
  UniqueFd epoll_;
  UniqueFd wake_;
  UniqueFd rendezvous_timer_;
  uint32_t pending_rendezvous_ = 0;  // accepted connections in kAwaitReply
  std::unordered_map<uint32_t, UniqueFd> listeners_;
  std::unordered_map<uint32_t, Admission> admissions_;  // per listener, when restricted
  std::map<uint32_t, std::unique_ptr<ShmConnection>> connections_;
  std::vector<ShmConnection*> scan_;  // Reap's list of open connections
  uint32_t next_id_ = 1;
  bool io_ready_ = true;
  ShmStats stats_;
};

}  // namespace crdma::shm
