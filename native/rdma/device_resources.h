// DeviceResources: what one RDMA device (ibv_context) needs to carry our connections:
// a protection domain, the Region registered once as a memory region with LOCAL access
// only (remote access is granted per lease, per transfer — see rdma_engine.cc), a
// completion channel (an fd Node's loop polls) and one completion queue shared by every
// queue pair on the device. Plain C++.
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
  static constexpr int kCqEntries = 8192;

  DeviceResources(const VerbsApi& api, ibv_context* context, std::shared_ptr<MemoryRegion> region);  // throws SysError
  ~DeviceResources();
  DeviceResources(const DeviceResources&) = delete;
  DeviceResources& operator=(const DeviceResources&) = delete;

  ibv_context* context() const { return context_; }
  ibv_pd* pd() const { return pd_; }
  ibv_cq* cq() const { return cq_; }
  uint32_t lkey() const { return mr_->lkey; }
  int completion_fd() const { return channel_->fd; }
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
  bool armed_ = false;
  bool signaled_ = false;
};
static_assert(!std::is_copy_constructible_v<DeviceResources>);

}  // namespace crdma
