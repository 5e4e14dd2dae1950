// Owners of libuv handles on Node's loop. uv_close() is asynchronous, so the handle
// memory (UvHandle::State) is heap-allocated and outlives its owner until libuv's close
// callback ran; the owner can go away at once.
//   UvPoll    — watch one fd for readability (an io_uring ring fd, an RDMA completion
//               channel, an rdma_cm event channel)
//   UvPrepare — run a step every loop iteration, just before the loop blocks
// Neither keeps the loop alive unless ref'd (SetRef).
//
// Environment teardown (a worker exiting, the process ending): every handle registers an
// async cleanup hook, which closes the handle if its owner has not, and Node waits for
// the close callback before it frees the environment and unloads the addon. Without it a
// close callback — code inside the addon — could run in the worker's last loop turn after
// the addon was unloaded, and a watcher still open could fire while JS can no longer run.
#pragma once
#include <napi.h>
#include <uv.h>

#include <functional>

namespace crdma {

class UvHandle {
 public:
  ~UvHandle();  // closes the handle unless the teardown hook closed it already
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  void SetRef(bool ref);

 protected:
  struct State;
  UvHandle(Napi::Env env, std::function<void()> callback);
  State* state_;  // freed by whichever comes last: this owner or libuv's close callback
};

class UvPoll : public UvHandle {
 public:
  UvPoll(Napi::Env env, int fd, std::function<void()> on_readable);
  // uv_poll_init's result: 0, or a negative errno (the fd cannot be watched; the handle is
  // inert and its owner must report the failure).
  int error() const { return error_; }

 private:
  int error_ = 0;
};

class UvPrepare : public UvHandle {
 public:
  UvPrepare(Napi::Env env, std::function<void()> step);
};

}  // namespace crdma
