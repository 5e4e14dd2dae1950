// UringEngine: one io_uring and everything driven by it: listeners (multishot accept),
// connections (async connect, multishot recv into the region's provided buffers,
// sendmsg straight from leases), frame assembly, and slot recycling. It reports what
// happened as fixed-size Events into an EventSink; it never calls JS itself.
// Plain C++ (no napi.h); uring_engine_wrap.cc is its JS surface.
//
// Hot-path methods return -errno and never throw; setup methods throw SysError.
// Destruction order (reverse of the members): connections and listeners (their fds are
// closed, their leases freed back to the region), the provided buffers (unregistered),
// the ring (torn down), and last the reference to the region.
#pragma once
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "common/dirty_list.h"
#include "common/driven_engine.h"
#include "common/events.h"
#include "region/memory_region.h"
#include "uring/uring_connection.h"
#include "uring/provided_buffers.h"
#include "common/reassembly_share.h"
#include "uring/ring.h"

namespace crdma {

struct UringEngineStats {
  double frames_in = 0, bytes_in = 0, frames_out = 0, bytes_out = 0;
  double reassembled = 0, reassembled_bytes = 0;
  double recv_completions = 0, submits = 0, buffer_starvations = 0, batches = 0;
  double accept_errors = 0;  // failed accept completions (EMFILE...), each followed by a back-off
  double adopted_ktls = 0;   // connections adopted with kernel TLS installed (Adopt)
};

struct UringEngineOptions {
  unsigned ring_entries = 1024;
  uint32_t max_frame_bytes = 32u << 20;
  // Lease bytes one connection may hold (maxUnsentBytes): bounds reassembly too
  // (reassembly_share.h); 0: unbounded.
  size_t max_unsent_bytes = 0;
};

class UringEngine : public DrivenEngine {
 public:
  UringEngine(std::shared_ptr<MemoryRegion> region, const UringEngineOptions& options);  // throws
  ~UringEngine() override;
  UringEngine(const UringEngine&) = delete;
  UringEngine& operator=(const UringEngine&) = delete;

  // Setup (throws SysError). Listen returns the listener id; the bound address is
  // written back into *addr / *len.
  // `unix_mode`: the permissions of a Unix socket file (BindUnixSocket; ignored for TCP).
  // `first_frame_max`: the largest first frame an accepted connection may announce
  // (FrameAssembler::LimitFirstFrame; 0: no such limit).
  uint32_t Listen(sockaddr_storage* addr, socklen_t* len, int backlog, unsigned unix_mode, uint32_t first_frame_max);
  uint32_t Connect(const sockaddr_storage& addr, socklen_t len);
  // Takes over a TCP socket connected elsewhere (a node:net socket after its TLS
  // handshake, with kernel TLS installed: ktls_socket.h) as an open connection, client or
  // server alike; no event follows: the caller opens its channel with the id returned.
  // `first_frame_max` as Listen's, for a server's side.
  uint32_t Adopt(UniqueFd fd, bool ktls, uint32_t first_frame_max);
  // The upper-layer protocol on a connection's socket ("tls" after a kTLS Adopt), "" for
  // none or a connection that is gone.
  std::string UlpOf(uint32_t connection) const;

  // Hot path (-errno on failure). Send takes ownership of the lease in every case.
  int Send(uint32_t connection, size_t lease_offset, uint32_t length);
  // Send packs (src/channel/send-pack.ts): JS writes whole frames (headers included) back
  // to back into one lease and describes each run of them in a shared table: word 0 the
  // count, word 1 the drain generation, then per range kSendRangeWords words: connection,
  // lease offset, offset in the lease, bytes, frames. Flush() and every JS call that
  // depends on send order drain the table first, so ranges and whole-lease sends leave in
  // the order JS made them. A drain ends every pack it saw (JS starts a new pack once the
  // generation moved): each lease's last range in a drain frees it once written.
  static constexpr size_t kSendRangeHeaderWords = 2;
  static constexpr size_t kSendRangeWords = 5;
  void SetSendRanges(uint32_t* ranges, size_t capacity);
  void DrainSendRanges() override;
  int SendRange(uint32_t connection, size_t lease_offset, uint32_t from, uint32_t length, uint32_t frames, bool last);
  // graceful: queued frames are sent first (bounded by the caller, who may call again
  // with graceful=false).
  int CloseConnection(uint32_t connection, bool graceful);
  int CloseListener(uint32_t listener);
  // Pins the receive slot holding `offset` beyond the current batch; returns its index.
  int HoldSlot(size_t offset);
  void ReleaseSlot(uint32_t index);
  // Lease bytes queued and not yet written, and bytes written so far; false if unknown.
  bool SendBacklog(uint32_t connection, double* unsent, double* written) const;
  // Who is at the other end (read at accept/connect); nullptr for a connection that is gone.
  const PeerIdentity* PeerOf(uint32_t connection) const;
  // Bytes of the frame `connection` is in the middle of receiving (FrameAssembler::
  // PartialBytes); -1 for a connection that is gone. JS bounds how long it may not grow,
  // so it is 0 while this side does not read (no receive buffer or lease free): that
  // stall is ours, not the peer's.
  double PartialFrameBytes(uint32_t connection) const {
    auto it = connections_.find(connection);
    if (it == connections_.end()) return -1;
    const UringConnection& c = it->second;
    return HeldBack(c.receive) || !c.backlog.empty() ? 0 : c.rx.PartialBytes();
  }

  // DrivenEngine. Flush: queues pending sends and recv re-arms, publishes recycled
  // buffers, submits (one syscall). FlushSends: the sends only, safe inside Reap().
  // EndBatch: unpins the slots of the batch's views.
  int Flush() override;
  void FlushSends() override;
  int Reap(EventSink& sink) override;
  void EndBatch() override;
  // Spinning on a TASKRUN_FLAG ring: run task work only when the kernel flags some.
  void SpinStep() override;
  bool CompletionsReady() override {
    return io_uring_cq_ready(ring_.get()) > 0 || ring_.TaskWorkPending() || !stalled_.empty();
  }

  // Makes the ring fd readable (Reap() leaves completions behind at its bound, or a
  // backlog waits for memory): a NOP completion when the CQ is empty.
  void WakeSoon() override;
  // The fd the event loop polls: the ring's own, readable while completions wait.
  int poll_fd() const { return ring_.fd(); }
  unsigned setup_flags() const { return ring_.setup_flags(); }
  // Connections and listeners that are open (they keep the event loop alive).
  size_t active() const override { return connections_.size() + listeners_.size(); }
  const UringEngineStats& stats() const { return stats_; }
  const MemoryRegion& region() const { return *region_; }

 private:
  enum Op : uint32_t { kOpAccept = 1, kOpConnect, kOpRecv, kOpSend, kOpCancel, kOpWake, kOpAcceptRetry };
  static uint64_t Tag(Op op, uint32_t id) { return (uint64_t{op} << 32) | id; }

  void ArmAccept(Listener& l);
  void ArmRecv(UringConnection& c);
  // One SENDMSG per connection with queued frames and no send in flight.
  void PrepDirtySends();
  // Inside Reap(): completes the successful send completions at the head of the queue
  // (no events, no connection destroyed).
  void ReapSendCompletions();
  // Frees the leases `bytes` covered; sends the rest or the next queued frames.
  void SendProgress(UringConnection& c, size_t bytes);
  void PrepSend(UringConnection& c);
  void MarkDirty(UringConnection& c);
  // Recv stopped for lack of provided buffers: Flush() re-arms it when slots are back.
  void MarkStarved(UringConnection& c);
  // A backlog began: no recv until it drained (cancels an armed one).
  void PauseRecv(UringConnection& c);
  void OnAccept(Listener& l, int res, unsigned flags, EventSink& sink);
  void AddAccepted(Listener& l, UniqueFd fd, EventSink& sink);
  // A connected socket as an open connection (TCP_NODELAY, peer identity, first-frame
  // limit, receive armed): an accepted one, or one adopted from JS.
  UringConnection& OpenConnection(UniqueFd fd, uint32_t first_frame_max);
  // A failed accept: a timer re-arms it later (OnAcceptRetry).
  void RetryAcceptLater(Listener& l);
  void OnAcceptRetry(Listener& l);
  void OnConnect(UringConnection& c, int res, EventSink& sink);
  void OnRecv(UringConnection& c, int res, unsigned flags, EventSink& sink);
  void OnSend(UringConnection& c, int res, EventSink& sink);
  // Parses frames in slot `bid` from `pos`; returns kConsumed, or the position where it
  // stopped for lack of a lease (back-pressure).
  static constexpr size_t kConsumed = ~size_t{0};
  size_t ConsumeSlot(UringConnection& c, uint16_t bid, size_t n, size_t pos, EventSink& sink);
  // Parses stalled backlogs again (memory may have come back); true when any progressed.
  bool ResumeStalled(EventSink& sink);
  // A connection whose backlog stopped: polled again each Reap() (waiting for memory JS
  // frees), or, waiting for the over-share place, parked until WakeShareWaiters().
  void Stall(UringConnection& c);
  // The over-share place came back, or `c`'s unsent frames shrank: parse again.
  void WakeShareWaiters();
  void WakeShareWaiter(UringConnection& c);
  void HandleEndOfStream(UringConnection& c, EventSink& sink);
  // Reports the end once (never after a local close), then closes (BeginClose).
  void Fail(UringConnection& c, int err, CloseReason reason, EventSink& sink);
  // Shuts the socket down, cancels its operations and frees its queued leases.
  void BeginClose(UringConnection& c);
  // A graceful close whose frames all left: our FIN, then drop what the peer still sends.
  void BeginLinger(UringConnection& c);
  void LingerRecv(UringConnection& c, int res, bool more);
  // Gives back what receiving holds (pending lease, share, backlog slots); sends untouched.
  void DropReceiveState(UringConnection& c);
  void MaybeDestroy(uint32_t id);
  void FreeLease(size_t offset);
  // The leases of the sends queued and not yet in a SENDMSG (the queue is emptied).
  void FreeQueuedSends(UringConnection& c);
  // The leases of queued and in-flight sends (and packs waiting for the destroy).
  void FreeSendLeases(UringConnection& c);

  // Members in acquisition order; destruction runs in reverse.
  std::shared_ptr<MemoryRegion> region_;
  UringEngineOptions options_;
  Ring ring_;
  ProvidedBuffers buffers_;
  std::unordered_map<uint32_t, Listener> listeners_;
  std::unordered_map<uint32_t, UringConnection> connections_;
  DirtyList dirty_;
  std::vector<uint32_t> closing_;
  std::vector<uint32_t> stalled_;  // connections with a receive backlog, retried each Reap()
  // Connections with a receive backlog waiting for the over-share place (entries whose
  // waits_for_share is false are stale and skipped).
  std::vector<uint32_t> share_waiting_;
  ReassemblyShare reassembly_;
  std::vector<uint32_t> starved_;  // connections whose recv waits for free slots
  std::vector<uint16_t> batch_pins_;
  // Counts EndBatch calls: a slot whose parse spans a chunk's end (dispatchChunk) is
  // pinned again for the views that follow (SlotHooks).
  uint64_t batches_ended_ = 0;
  uint32_t next_id_ = 1;
  UringEngineStats stats_;
  // The send-range table JS shares (owned by the wrap, which outlives this engine).
  uint32_t* send_ranges_ = nullptr;
  size_t send_ranges_capacity_ = 0;
  std::vector<bool> range_is_last_;     // DrainSendRanges() scratch, kept for its capacity
  std::vector<uint32_t> leases_seen_;
};
static_assert(!std::is_copy_constructible_v<UringEngine>);

}  // namespace crdma
