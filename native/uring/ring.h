// Ring: one io_uring instance and the eventfd its completions are signalled on.
// Set up with COOP_TASKRUN|TASKRUN_FLAG (+SINGLE_ISSUER when the kernel has it): the
// kernel never interrupts us with an IPI to
// post completions, and a spinning poller sees IORING_SQ_TASKRUN in the SQ flags word when
// task work is pending (baselines: 7.7 µs spinning vs 27.5 µs with default flags).
// Plain C++ (no napi.h).
//
// Destruction order: the eventfd is unregistered with the ring, then the ring is torn
// down (io_uring_queue_exit), then the eventfd is closed (member order below).
#pragma once
#include <liburing.h>

#include <type_traits>

#include "common/unique_fd.h"
#include "uring/uring_compat.h"

namespace crdma {

class Ring {
 public:
  explicit Ring(unsigned entries);  // throws SysError
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  io_uring* get() { return &ring_; }
  int event_fd() const { return event_fd_.get(); }
  unsigned setup_flags() const { return setup_flags_; }

  // An SQE, submitting queued ones first when the SQ is full. Never null.
  io_uring_sqe* Sqe();
  // Submits queued SQEs; returns -errno on failure (hot path: no throw).
  int Submit();
  // True when the kernel flagged pending task work (TASKRUN_FLAG).
  bool TaskWorkPending() const {
    return IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN;
  }

 private:
  UniqueFd event_fd_;
  io_uring ring_{};
  unsigned setup_flags_ = 0;
  bool ring_ready_ = false;
};
static_assert(!std::is_copy_constructible_v<Ring>);

}  // namespace crdma
