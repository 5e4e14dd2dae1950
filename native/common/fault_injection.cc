// See fault_injection.h.
#include "common/fault_injection.h"

namespace crdma {
namespace fault_detail {

Countdown g_points[static_cast<size_t>(FaultPoint::kCount)];

bool FireArmed(Countdown& c) {
  // Threads racing through an armed point never fail it more than `fails` times.
  if (c.fails.fetch_sub(1, std::memory_order_relaxed) <= 0) {
    c.fails.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  c.fired.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace fault_detail

const char* FaultPointName(FaultPoint point) {
  switch (point) {
    case FaultPoint::kUringFullSqSubmit: return "uring.full_sq_submit";
    case FaultPoint::kUringAcceptAfterClose: return "uring.accept_after_close";
    case FaultPoint::kRdmaPostSend: return "rdma.post_send";
    case FaultPoint::kRdmaRepeatReadRequest: return "rdma.repeat_read_request";
    case FaultPoint::kRdmaCqError: return "rdma.cq_error";
    case FaultPoint::kCount: break;
  }
  return nullptr;
}

int64_t ArmFault(FaultPoint point, int64_t fails) {
  fault_detail::Countdown& c = fault_detail::g_points[static_cast<size_t>(point)];
  c.fails.store(0, std::memory_order_relaxed);  // disarmed while the counts change
  int64_t fired = c.fired.exchange(0, std::memory_order_relaxed);
  c.fails.store(fails > 0 ? fails : 0, std::memory_order_relaxed);
  return fired;
}

int64_t FaultsFired(FaultPoint point) {
  return fault_detail::g_points[static_cast<size_t>(point)].fired.load(std::memory_order_relaxed);
}

}  // namespace crdma
