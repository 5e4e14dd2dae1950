// RdmaConnection and RdmaListener: per-queue-pair state of the RdmaEngine. Everything a
// connection has lent to the device (posted receive slots, leases in sends, leases being
// read into, leases exported for the peer to read) is tracked here, so destroying the
// queue pair first and then returning all of it frees everything exactly once. Plain C++.
#pragma once
#include <rdma/rdma_cma.h>

#include "common/peer_identity.h"
#include "rdma/cm_owners.h"
#include "rdma/inbound_frames.h"
#include "rdma/rdma_wire.h"

#include <cstdint>
#include <deque>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace crdma {

class DeviceResources;

struct RdmaConnection {
  enum class State { kResolving, kConnecting, kOpen, kClosing };

  uint32_t id = 0;
  CmId cm_id;  // and its queue pair: destroyed first by RdmaEngine::Destroy
  DeviceResources* device = nullptr;
  State state = State::kResolving;
  bool passive = false;    // accepted by a listener
  PeerIdentity identity;   // the CM's destination address, copied when established
  uint32_t listener = 0;   // for passive connections
  bool reported = false;   // the end (or a failed connect) went to JS
  bool dirty = false;
  bool close_after_send = false;  // closed by JS: disconnect once queued frames were taken

  // Flow control.
  uint32_t peer_slot_size = 0;
  uint32_t peer_recv_depth = 0;  // the peer's advertised receives: credits never exceed it
  int32_t send_credits = 0;  // receives the peer has posted for us
  uint32_t owed_credits = 0; // receives we re-posted and have not told the peer about
  uint32_t recv_depth = 0;
  uint32_t recv_deficit = 0; // receives to re-post once slots are free (listed while > 0)
  int send_failed = 0;       // errno of a failed ibv_post_send: the connection is failed next Reap
  uint32_t sends_in_flight = 0;
  bool read_waiting = false;  // waiting in RdmaEngine's ReadScheduler
  uint32_t max_send_wr = 0;
  uint32_t cq_reserved = 0;  // entries of the device's CQ this queue pair holds (Reserve)

  struct QueuedFrame {
    size_t lease_offset;
    uint32_t length;
  };
  std::deque<QueuedFrame> queue;                       // frames JS sent, waiting for credits
  // Lease-area bytes of `queue` and bytes taken from it so far (posted or exported): JS
  // bounds the first per connection and watches the second for progress (docs/LIMITS.md).
  size_t unsent_bytes = 0;
  double written_bytes = 0;
  std::unordered_set<uint32_t> posted_slots;           // receive slots lent to the QP
  std::unordered_set<size_t> sending_leases;           // leases in posted SENDs
  struct Reading {  // a large frame coming in by RDMA READ, in chunks
    size_t lease_offset;
    uint32_t length;
    uint64_t remote_addr;
    uint32_t rkey;
    uint32_t posted = 0;     // bytes asked for so far
    uint32_t completed = 0;  // bytes landed (completions arrive in order)
    uint32_t in_flight = 0;  // READ work requests outstanding
  };
  std::unordered_map<uint32_t, Reading> reading;       // token -> lease we RDMA-READ into
  // Frames in arrival order while a READ is ahead of them, and the READ tokens in use.
  InboundFrames inbound;
  // Receive completions that arrived before ESTABLISHED was handled (passive side).
  std::vector<std::pair<uint32_t, uint32_t>> early;  // slot, byte_len
  bool peer_disconnected = false;  // DISCONNECTED seen; closed after the CQ was drained
  std::vector<uint32_t> pending_done;                  // READ_DONE tokens to send
  std::deque<ReadRequest> pending_reads;               // READ_REQUESTs waiting for a lease
  // READ targets counted against the share (ReassemblyShare) from their lease until
  // delivered: lease bytes of those within the share, and the token of the one holding the
  // engine's over-share place (when over_share; counted there, not here).
  size_t read_share_bytes = 0;
  bool over_share = false;
  uint32_t over_share_token = 0;
  struct Export {
    size_t lease_offset;
    MemoryRegistration mr;  // revoked (deregistered) before the lease is freed
  };
  std::unordered_map<uint32_t, Export> exports;        // token -> lease the peer reads
  uint32_t next_token = 1;
};

struct RdmaListener {
  uint32_t id = 0;
  CmId cm_id;
};

}  // namespace crdma
