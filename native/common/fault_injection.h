// Test-only fault injection: named failure points on native error paths a test cannot
// reach from outside (a submit that keeps failing, a kernel completion racing a close, a
// refused RDMA post). Each point is a count-down: armed with a count, the next `fails`
// passes through it fail, and later ones pass again. Tests arm points from JS
// through the addon's `faultPoint()` (fault_injection_js.h); nothing else arms them, and
// the package's API does not expose them. The same addon runs in tests and in production:
// a point that is not armed costs one relaxed load (a plain mov) and one predictable branch.
// The points are process-wide (all threads, all engines): a test arms one in a process
// (vitest runs each file in its own) where it drives the engine that should fail.
// Plain C++ (no napi.h).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace crdma {

enum class FaultPoint : uint8_t {
  // "uring.full_sq_submit": the io_uring_submit Ring::Sqe() makes to free a submission
  // entry when the SQ is full returns -EBUSY without submitting.
  kUringFullSqSubmit,
  // "uring.accept_after_close": a successful accept completion is reaped as though JS had
  // closed the listener just before and the kernel had ended the multishot accept with
  // it (as a full CQ makes it do): the final accept arrives for a closing listener.
  kUringAcceptAfterClose,
  // "rdma.post_send": ibv_post_send of a SEND (frame or control message) returns ENOMEM
  // without posting.
  kRdmaPostSend,
  // "rdma.repeat_read_request": a READ_REQUEST received is taken twice, as a peer that
  // reuses a token still in use would send it.
  kRdmaRepeatReadRequest,
  // "rdma.cq_error": the next check of a device's async events finds IBV_EVENT_CQ_ERR on
  // its completion queue (an overrun), which the device reports only when completions were
  // lost.
  kRdmaCqError,
  kCount,
};

// The point's name as JS arms it, or nullptr for kCount.
const char* FaultPointName(FaultPoint point);

namespace fault_detail {
struct Countdown {
  std::atomic<int64_t> fails{0};  // failures still to come: 0 = not armed
  std::atomic<int64_t> fired{0};  // failures since the last ArmFault
};
extern Countdown g_points[static_cast<size_t>(FaultPoint::kCount)];
bool FireArmed(Countdown& point);  // the armed path, out of line
}  // namespace fault_detail

// True when this pass through `point` must fail.
inline bool FaultFires(FaultPoint point) {
  fault_detail::Countdown& c = fault_detail::g_points[static_cast<size_t>(point)];
  if (__builtin_expect(c.fails.load(std::memory_order_relaxed) <= 0, 1)) return false;
  return fault_detail::FireArmed(c);
}

// Arms `point` (fails = 0 disarms it); returns how often it fired since it was last armed.
int64_t ArmFault(FaultPoint point, int64_t fails);
// How often `point` fired since it was last armed.
int64_t FaultsFired(FaultPoint point);

}  // namespace crdma
