// Ring: one io_uring instance. Set up with COOP_TASKRUN|TASKRUN_FLAG (+SINGLE_ISSUER when
// the kernel has it): the kernel never interrupts us with an IPI to post completions, and
// a spinning poller sees IORING_SQ_TASKRUN in the SQ flags word when task work is pending,
// so it enters the kernel only then. Event mode polls the ring fd itself (readable while
// the CQ holds completions): no eventfd to signal and drain (docs/CHANNELS.md §1 says why).
// Plain C++ (no napi.h).
//
// Destruction: the ring is torn down (io_uring_queue_exit), which closes its fd; whoever
// polls that fd (uring_engine_wrap.cc) stops first.
#pragma once
#include <liburing.h>

#include <type_traits>

#include "uring/uring_compat.h"

namespace crdma {

class Ring {
 public:
  explicit Ring(unsigned entries);  // throws SysError
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  io_uring* get() { return &ring_; }
  // The ring's own fd: poll it for readability to learn that completions are waiting.
  int fd() const { return ring_.ring_fd; }
  unsigned setup_flags() const { return setup_flags_; }

  // An SQE, submitting queued ones first when the SQ is full. Never null: a ring whose
  // submissions keep failing (about a second of retries) aborts the process with the
  // reason rather than spin.
  io_uring_sqe* Sqe();
  // Submits queued SQEs; returns -errno on failure (hot path: no throw).
  int Submit();
  // True when the kernel flagged pending task work (TASKRUN_FLAG).
  bool TaskWorkPending() const {
    return IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN;
  }

 private:
  static constexpr int kSubmitAttempts = 1000;

  io_uring ring_{};
  unsigned setup_flags_ = 0;
};
static_assert(!std::is_copy_constructible_v<Ring>);

}  // namespace crdma
