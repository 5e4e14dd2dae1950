// See device_resources.h.
#include "rdma/device_resources.h"

#include <fcntl.h>

#include "common/sys_error.h"

namespace crdma {

DeviceResources::DeviceResources(const VerbsApi& api, ibv_context* context, std::shared_ptr<MemoryRegion> region)
    : api_(api), context_(context), region_(std::move(region)) {
  try {
    ibv_device_attr attr{};
    if (api_.query_device(context_, &attr) == 0) {
      max_rd_atomic_ = attr.max_qp_rd_atom > 16 ? 16 : (attr.max_qp_rd_atom < 1 ? 1 : attr.max_qp_rd_atom);
      if (attr.max_cqe > 0) max_cqe_ = attr.max_cqe;
    }
    pd_ = api_.alloc_pd(context_);
    if (!pd_) throw SysError{errno ? errno : ENOMEM, "ibv_alloc_pd"};
    // Local access only: no registration of the whole region ever grants remote access.
    mr_ = api_.reg_mr(pd_, region_->base(), region_->size(), IBV_ACCESS_LOCAL_WRITE);
    if (!mr_) throw SysError{errno ? errno : ENOMEM, "ibv_reg_mr"};
    channel_ = api_.create_comp_channel(context_);
    if (!channel_) throw SysError{errno ? errno : ENOMEM, "ibv_create_comp_channel"};
    int flags = fcntl(channel_->fd, F_GETFL);
    fcntl(channel_->fd, F_SETFL, flags | O_NONBLOCK);
    cq_ = api_.create_cq(context_, kInitialCqEntries < max_cqe_ ? kInitialCqEntries : max_cqe_, nullptr, channel_, 0);
    if (!cq_) throw SysError{errno ? errno : ENOMEM, "ibv_create_cq"};
    cq_entries_ = static_cast<uint32_t>(cq_->cqe);
    flags = fcntl(context_->async_fd, F_GETFL);
    fcntl(context_->async_fd, F_SETFL, flags | O_NONBLOCK);
    int rc = ibv_req_notify_cq(cq_, 0);
    if (rc) throw SysError{rc, "ibv_req_notify_cq"};
    armed_ = true;
  } catch (...) {
    Release();
    throw;
  }
}

DeviceResources::~DeviceResources() { Release(); }

void DeviceResources::Release() {
  if (cq_) api_.destroy_cq(cq_);
  if (channel_) api_.destroy_comp_channel(channel_);
  if (mr_) api_.dereg_mr(mr_);
  if (pd_) api_.dealloc_pd(pd_);
  cq_ = nullptr;
  channel_ = nullptr;
  mr_ = nullptr;
  pd_ = nullptr;
}

void DeviceResources::ConsumeEvents() {
  if (!signaled_) return;
  signaled_ = false;
  ibv_cq* cq;
  void* ctx;
  unsigned events = 0;
  while (api_.get_cq_event(channel_, &cq, &ctx) == 0) ++events;
  if (events) {
    api_.ack_cq_events(cq_, events);
    armed_ = false;  // an event disarms the CQ
  }
}

bool DeviceResources::Reserve(uint32_t entries) {
  uint64_t needed = uint64_t{reserved_} + entries;
  if (needed > cq_entries_) {
    if (needed > static_cast<uint64_t>(max_cqe_)) return false;
    uint64_t grown = uint64_t{cq_entries_} * 2 > needed ? uint64_t{cq_entries_} * 2 : needed;
    if (grown > static_cast<uint64_t>(max_cqe_)) grown = static_cast<uint64_t>(max_cqe_);
    if (api_.resize_cq(cq_, static_cast<int>(grown)) != 0) return false;
    cq_entries_ = static_cast<uint32_t>(cq_->cqe);
    if (needed > cq_entries_) return false;
  }
  reserved_ = static_cast<uint32_t>(needed);
  return true;
}

bool DeviceResources::Arm() {
  if (armed_) return false;
  armed_ = ibv_req_notify_cq(cq_, 0) == 0;
  return true;
}

}  // namespace crdma
