// DeviceResources: what one RDMA device (ibv_context) needs to carry our connections:
// a protection domain, the Region registered once as a memory region with LOCAL access
// only (remote access is granted per lease, per transfer — see rdma_data_path.cc), a
// completion channel (an fd Node's loop polls) and one completion queue shared by every
// queue pair on the device. Plain C++.
//
// The shared CQ must hold every completion that can be outstanding, or an overrun loses
// them (slots and leases leak, connections hang): each queue pair reserves its receive
// depth plus its send queue (Reserve) before it is created, the CQ grows (ibv_resize_cq)
// up to the device's max_cqe, and a queue pair that does not fit is refused. The device's
// async events (a CQ overrun, a queue pair in the error state) are read from its async fd
// by the engine (RdmaEngine::Reap); the fd is not watched on the loop: the ibv_context is
// shared by every rdma_cm user of the process, and libuv cannot watch one fd twice.
// Destruction order (reverse of acquisition): CQ, completion channel, MR, PD.
#pragma once
#include <infiniband/verbs.h>

#include <memory>
#include <type_traits>

#include "region/memory_region.h"
#include "rdma/verbs_api.h"

namespace crdma {

class DeviceResources {
 public:
  static constexpr int kInitialCqEntries = 8192;

  DeviceResources(const VerbsApi& api, ibv_context* context, std::shared_ptr<MemoryRegion> region);  // throws SysError
  ~DeviceResources();
  DeviceResources(const DeviceResources&) = delete;
  DeviceResources& operator=(const DeviceResources&) = delete;

  ibv_context* context() const { return context_; }
  ibv_pd* pd() const { return pd_; }
  ibv_cq* cq() const { return cq_; }
  uint32_t lkey() const { return mr_->lkey; }
  int completion_fd() const { return channel_->fd; }
  int async_fd() const { return context_->async_fd; }

  // Room in the CQ for `entries` more outstanding completions: grows the CQ when needed;
  // false when the device cannot hold them (the queue pair must not be created).
  bool Reserve(uint32_t entries);
  void Unreserve(uint32_t entries) { reserved_ -= entries < reserved_ ? entries : reserved_; }
  uint32_t cq_entries() const { return cq_entries_; }

  // Reads (and acknowledges) the device's pending async events; never blocks.
  template <typename Fn>  // fn(const ibv_async_event&)
  void ReadAsyncEvents(Fn&& fn) {
    ibv_async_event event;
    while (api_.get_async_event(context_, &event) == 0) {
      ibv_async_event copy = event;
      api_.ack_async_event(&event);
      fn(copy);  // only the pointers' identity is used after the ack
    }
  }
  uint32_t max_inline() const { return max_inline_; }
  void set_max_inline(uint32_t n) { max_inline_ = n; }
  int max_rd_atomic() const { return max_rd_atomic_; }

  // Notification without a syscall per poll (rxe's ibv_req_notify_cq and the channel's
  // read are both syscalls): the channel fd fired -> MarkSignaled(); ConsumeEvents()
  // reads and acknowledges the events only then (the CQ is disarmed after an event);
  // Arm() re-arms only a disarmed CQ and says so — the caller must poll the CQ once more
  // after a true, for completions that arrived before the arming. An event left unread
  // while spinning keeps the fd readable, so Node's loop comes back for it: no lost wakeup.
  void MarkSignaled() { signaled_ = true; }
  bool signaled() const { return signaled_; }
  void ConsumeEvents();
  bool Arm();

 private:
  void Release();

  const VerbsApi& api_;
  ibv_context* context_;
  std::shared_ptr<MemoryRegion> region_;
  ibv_pd* pd_ = nullptr;
  ibv_mr* mr_ = nullptr;
  ibv_comp_channel* channel_ = nullptr;
  ibv_cq* cq_ = nullptr;
  uint32_t max_inline_ = 0;
  int max_rd_atomic_ = 1;
  int max_cqe_ = kInitialCqEntries;
  uint32_t cq_entries_ = 0;  // what the CQ holds (the provider may round up)
  uint32_t reserved_ = 0;    // what the queue pairs on it can have outstanding
  bool armed_ = false;
  bool signaled_ = false;
};
static_assert(!std::is_copy_constructible_v<DeviceResources>);

}  // namespace crdma
