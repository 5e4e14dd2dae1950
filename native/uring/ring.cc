// See ring.h.
//
// Event mode: libuv polls the ring fd itself (no eventfd); docs/CHANNELS.md §1 says why,
// with the measurements. COOP_TASKRUN stays: spin mode needs TASKRUN_FLAG.
#include "uring/ring.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/fault_injection.h"
#include "common/sys_error.h"

namespace crdma {

Ring::Ring(unsigned entries) {
  const unsigned candidates[] = {
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SINGLE_ISSUER,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      0,
  };
  int rc = -EINVAL;
  for (unsigned flags : candidates) {
    io_uring_params params{};
    params.flags = flags | IORING_SETUP_CQSIZE;
    params.cq_entries = entries * 4;  // multishot recv/accept post many CQEs per SQE
    rc = io_uring_queue_init_params(entries, &ring_, &params);
    if (rc == 0) {
      setup_flags_ = flags;
      break;
    }
    if (rc != -EINVAL) break;
  }
  CheckNeg(rc, "io_uring_setup");
}

Ring::~Ring() { io_uring_queue_exit(&ring_); }

io_uring_sqe* Ring::Sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  for (int attempt = 0; !sqe; ++attempt) {
    int rc = FaultFires(FaultPoint::kUringFullSqSubmit) ? -EBUSY : io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
    if (sqe) break;
    // A full SQ the kernel will not take: transient errors (EINTR, EAGAIN: no memory for
    // the requests right now; EBUSY: completions waiting to be flushed) are retried for
    // about a second; anything else, or longer, leaves a ring that can take no work —
    // a loud abort with the reason instead of spinning a core forever unnoticed.
    bool transient = rc == -EINTR || rc == -EAGAIN || rc == -EBUSY || rc >= 0;
    if (!transient || attempt >= kSubmitAttempts) {
      fprintf(stderr, "connect-rdma: io_uring_submit cannot free a submission entry (%s after %d attempts)\n",
              strerror(rc < 0 ? -rc : EBUSY), attempt + 1);
      abort();
    }
    if (rc != -EINTR) usleep(1000);
  }
  return sqe;
}

int Ring::Submit() {
  if (io_uring_sq_ready(&ring_) == 0) {
    // Nothing to submit, but a TASKRUN_FLAG ring may still hold completions in task work.
    if (TaskWorkPending()) return io_uring_get_events(&ring_);
    return 0;
  }
  return io_uring_submit(&ring_);
}

}  // namespace crdma
