// RdmaEngine: RC queue pairs over rdma_cm, carrying frames in and out of one Region.
// Receive slots of the region are posted as receive buffers (the peer's SENDs land there
// by DMA and reach JS as views); sends post straight from leases; a frame larger than
// the peer's slot moves by one-sided RDMA READ: the sender registers only that lease for
// remote read, the receiver reads it into a lease of its own and says so, and the
// sender deregisters it (revoking the key). Credits in every header keep each side below
// the other's posted receives, so there are no RNR retries in normal operation.
// Plain C++ (no napi.h); rdma_engine_wrap.cc is the JS surface. The engine is written in
// four files: rdma_engine.cc (setup and teardown), rdma_cm_events.cc (the connection
// manager's events: connect, accept, establish, disconnect), rdma_data_path.cc (the
// outgoing half: receives posted, SENDs and READ_REQUESTs within credits, READs posted
// in chunks) and rdma_completions.cc (the incoming half: Reap(), completions and device
// events, received messages into frames, READs started into leases, READ_DONEs);
// read_scheduler.h owns the READ window.
//
// Destruction order: connections (queue pairs destroyed first, then every slot and
// lease they held returned, then their rdma_cm ids), listeners (their ids), device
// resources (CQ, channel, MR, PD), the rdma_cm event channel, and last the reference to
// the region. Members are declared in that order reversed (cm_owners.h owns the ids, the
// channel and the per-transfer registrations).
#pragma once
#include <sys/socket.h>

#include <functional>
#include <memory>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "common/dirty_list.h"
#include "common/driven_engine.h"
#include "common/events.h"
#include "common/reassembly_share.h"
#include "rdma/cm_owners.h"
#include "rdma/device_resources.h"
#include "rdma/rdma_connection.h"
#include "rdma/rdma_wire.h"
#include "rdma/read_scheduler.h"
#include "rdma/verbs_api.h"
#include "region/memory_region.h"

namespace crdma {

struct RdmaEngineOptions {
  uint32_t max_frame_bytes = 32u << 20;
  uint32_t recv_depth = 16;  // receive slots posted per connection
  // Lease bytes one connection may hold (maxUnsentBytes): bounds its READ targets too
  // (common/reassembly_share.h); 0: unbounded.
  size_t max_unsent_bytes = 0;
};

struct RdmaEngineStats {
  double frames_in = 0, bytes_in = 0, frames_out = 0, bytes_out = 0;
  double reads = 0, read_bytes = 0, inline_sends = 0, credit_messages = 0, credit_stalls = 0;
  double keys_granted = 0, keys_revoked = 0;
  double read_chunks_peak = 0;  // most READ chunks ever in flight at once (bounded by kReadsInFlight)
  double async_errors = 0;      // connections failed by a device async event (QP fatal, CQ overrun)
  double send_failures = 0;     // ibv_post_send refused a frame: its connection closed
  // READ targets (leases of frames being read or read and not yet delivered), all
  // connections together: lease bytes now, the most ever, and frames that took the
  // over-share place (common/reassembly_share.h).
  double read_target_bytes = 0, read_target_bytes_peak = 0, over_share_reads = 0;
};

class RdmaEngine : public DrivenEngine {
 public:
  // Throws SysError; `on_new_fd` is told about every fd Node's loop must watch and
  // answers 0, or a negative errno when it cannot watch it.
  RdmaEngine(const VerbsApi& api, std::shared_ptr<MemoryRegion> region, const RdmaEngineOptions& options,
             std::function<int(int)> on_new_fd);
  ~RdmaEngine() override;
  RdmaEngine(const RdmaEngine&) = delete;
  RdmaEngine& operator=(const RdmaEngine&) = delete;

  int cm_fd() const;
  // Node's loop saw `fd` (the rdma_cm channel or a completion channel) readable: the next
  // Reap() reads it. Reap() does not touch an fd that did not fire (each read is a syscall).
  void FdReadable(int fd);
  // Setup (throws SysError). Listen binds `addr` (port 0: any) and writes the bound port back.
  uint32_t Listen(sockaddr_storage* addr, int backlog);
  uint32_t Connect(const sockaddr_storage& remote, const sockaddr_storage* local);

  // Hot path (-errno). Send takes ownership of the lease in every case.
  int Send(uint32_t connection, size_t lease_offset, uint32_t length);
  // Lease bytes waiting for credits, and bytes sent from that queue so far; false if unknown.
  bool SendBacklog(uint32_t connection, double* unsent, double* written) const;
  // The peer's address (the CM's destination, copied when established); nullptr when gone.
  const PeerIdentity* PeerOf(uint32_t connection) const;
  // graceful: queued frames are delivered first (reads of exported leases included);
  // the caller bounds the wait and may call again with graceful=false.
  int CloseConnection(uint32_t connection, bool graceful);
  int CloseListener(uint32_t listener);
  int HoldSlot(size_t offset);
  void ReleaseSlot(uint32_t index);

  // DrivenEngine
  int Flush() override;
  int Reap(EventSink& sink) override;
  void EndBatch() override;
  void SpinStep() override {}
  bool CompletionsReady() override { return !waiting_for_leases_.empty() || !send_failed_.empty(); }
  size_t active() const override { return connections_.size() + listeners_.size(); }

  const RdmaEngineStats& stats() const { return stats_; }
  // Entries of the completion queues (all devices together): grown as queue pairs are added.
  double cq_entries() const {
    double n = 0;
    for (auto& [context, device] : devices_) n += device->cq_entries();
    return n;
  }
  // Revocation proof for tests: the exporter's last revoked key, the reader's last
  // (address, key) pair, and ProbeRead(), which reads with any pair: a revoked key makes
  // the device fail the READ (remote access error) and the connection closes with EACCES.
  uint32_t last_revoked_rkey() const { return last_revoked_rkey_; }
  uint64_t last_read_addr() const { return last_read_addr_; }
  uint32_t last_read_rkey() const { return last_read_rkey_; }
  int ProbeRead(uint32_t connection, uint64_t addr, uint32_t rkey, uint32_t length);

 private:
  enum Op : uint64_t { kOpRecv = 1, kOpSendData, kOpSendControl, kOpRead, kOpSendInline, kOpProbe };
  static uint64_t Tag(Op op, uint32_t conn, uint32_t value) {
    return (uint64_t{op} << 60) | (uint64_t{conn & 0x0fffffff} << 32) | value;
  }

  DeviceResources& DeviceFor(ibv_context* context);
  void SetUpQueuePair(RdmaConnection& c);  // throws SysError
  // What this side announces in rdma_connect / rdma_accept: its HELLO and the retry policy.
  struct ConnParam {
    Hello hello;
    rdma_conn_param param;
  };
  void FillConnParam(const RdmaConnection& c, ConnParam* out) const;
  bool PostRecv(RdmaConnection& c);
  bool PostSend(RdmaConnection& c, size_t lease_offset, uint32_t bytes, Op op, uint32_t value, bool allow_inline);
  bool SendControl(RdmaConnection& c, RdmaKind kind, const void* body, uint32_t body_bytes);
  // Posts the next READ chunks of a transfer (bounded, so a large frame never floods the
  // link with one burst of responses); false when posting failed.
  bool PostReads(RdmaConnection& c, uint32_t token, RdmaConnection::Reading& r);
  // A READ chunk finished (or was dropped with its connection): connections whose
  // transfers wait for the engine-wide window get pumped again.
  void ReadChunkDone();
  void Pump(RdmaConnection& c);
  // A frame left the credit queue (posted or exported): its bytes count as written.
  void Dequeued(RdmaConnection& c, size_t lease_offset);
  void MarkDirty(RdmaConnection& c);
  void HandleCmEvent(rdma_cm_event* event, EventSink& sink);
  void HandleCompletion(const ibv_wc& wc, EventSink& sink);
  void HandleAsyncEvent(DeviceResources& device, const ibv_async_event& event, EventSink& sink);
  void OnRecv(RdmaConnection& c, uint32_t slot, uint32_t bytes, EventSink& sink);
  void StartReads(RdmaConnection& c, EventSink& sink);
  // Counts a READ target's lease against c's share, or stops counting it (delivered or gone).
  void CountReadTarget(RdmaConnection& c, uint32_t token, size_t lease_offset, bool over_share);
  void UncountReadTarget(RdmaConnection& c, uint32_t token, size_t lease_offset);
  void DeliverInOrder(RdmaConnection& c, EventSink& sink);
  void Fail(RdmaConnection& c, int err, CloseReason reason, EventSink& sink);
  void BeginClose(RdmaConnection& c);
  // Completes a graceful close once nothing of c is queued, in flight or exported.
  void MaybeFinishClose(RdmaConnection& c);
  void Destroy(uint32_t id);
  int32_t TakeSlot();
  void RecycleSlot(uint32_t slot);
  void FreeLease(size_t offset);

  // Members in acquisition order; destruction runs in reverse.
  const VerbsApi& api_;
  std::shared_ptr<MemoryRegion> region_;
  RdmaEngineOptions options_;
  std::function<int(int)> on_new_fd_;
  CmEventChannel cm_channel_;
  std::unordered_map<ibv_context*, std::unique_ptr<DeviceResources>> devices_;
  std::unordered_map<uint32_t, RdmaListener> listeners_;
  std::unordered_map<uint32_t, RdmaConnection> connections_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> batch_pins_;
  DirtyList dirty_;
  std::vector<uint32_t> to_destroy_;
  std::vector<uint32_t> waiting_for_leases_;  // connections with READ_REQUESTs parked
  std::vector<uint32_t> disconnected_;        // peers that left: closed once the CQ is drained
  std::vector<uint32_t> short_of_receives_;   // connections with receives to re-post (recv_deficit)
  std::vector<uint32_t> send_failed_;         // ibv_post_send failed: closed by the next Reap
  ReadScheduler reads_;                       // the engine-wide window of READ chunks in flight
  ReassemblyShare read_share_;                // which READ targets may take a lease now
  bool cm_signaled_ = true;                   // the rdma_cm fd fired since the last Reap
  static constexpr uint32_t kAsyncCheckReaps = 4096;
  uint32_t reaps_since_async_check_ = kAsyncCheckReaps - 1;  // the first Reap checks
  uint32_t next_id_ = 1;
  uint32_t last_revoked_rkey_ = 0;
  uint64_t last_read_addr_ = 0;
  uint32_t last_read_rkey_ = 0;
  RdmaEngineStats stats_;
};
static_assert(!std::is_copy_constructible_v<RdmaEngine>);

}  // namespace crdma
