// Owners of libuv handles on Node's loop. uv_close() is asynchronous, so the handle
// memory is heap-allocated and freed by the close callback; the owner can go away at once.
//   UvPoll    — watch one fd for readability (an io_uring ring fd, an RDMA completion
//               channel, an rdma_cm event channel)
//   UvPrepare — run a step every loop iteration, just before the loop blocks
// Neither keeps the loop alive unless ref'd (SetRef).
#pragma once
#include <napi.h>
#include <uv.h>

#include <functional>

namespace crdma {

class UvPoll {
 public:
  UvPoll(Napi::Env env, int fd, std::function<void()> on_readable);
  ~UvPoll();
  UvPoll(const UvPoll&) = delete;
  UvPoll& operator=(const UvPoll&) = delete;
  void SetRef(bool ref);

 private:
  struct Handle {
    uv_poll_t poll;
    std::function<void()> callback;
  };
  Handle* handle_;
};

class UvPrepare {
 public:
  UvPrepare(Napi::Env env, std::function<void()> step);
  ~UvPrepare();
  UvPrepare(const UvPrepare&) = delete;
  UvPrepare& operator=(const UvPrepare&) = delete;

 private:
  struct Handle {
    uv_prepare_t prepare;
    std::function<void()> callback;
  };
  Handle* handle_;
};

}  // namespace crdma
