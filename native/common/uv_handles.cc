// See uv_handles.h.
#include "common/uv_handles.h"

namespace crdma {

struct UvHandle::State {
  union {
    uv_handle_t handle;
    uv_poll_t poll;
    uv_prepare_t prepare;
  } uv;
  std::function<void()> callback;
  napi_async_cleanup_hook_handle hook = nullptr;  // removed once the close callback ran
  bool owned = true;     // the UvHandle still points here
  bool initialized = false;  // libuv's init succeeded: only then may uv_close run
  bool closing = false;  // uv_close() was called
  bool closed = false;   // its close callback ran

  // uv_close also stops an active handle: no callback fires after this.
  void Close() {
    if (closing) return;
    closing = true;
    if (!initialized) {  // nothing for libuv to close: done at once
      closed = true;
      if (hook) napi_remove_async_cleanup_hook(hook);
      hook = nullptr;
      if (!owned) delete this;
      return;
    }
    uv_close(&uv.handle, [](uv_handle_t* h) {
      auto* s = static_cast<State*>(h->data);
      s->closed = true;
      if (s->hook) napi_remove_async_cleanup_hook(s->hook);  // lets environment teardown go on
      s->hook = nullptr;
      if (!s->owned) delete s;
    });
  }
};

namespace {
uv_loop_t* LoopOf(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  return loop;
}
}  // namespace

UvHandle::UvHandle(Napi::Env env, std::function<void()> callback) : state_(new State{}) {
  state_->callback = std::move(callback);
  napi_add_async_cleanup_hook(
      env, [](napi_async_cleanup_hook_handle, void* arg) { static_cast<State*>(arg)->Close(); }, state_,
      &state_->hook);
}

UvHandle::~UvHandle() {
  state_->owned = false;
  if (!state_->closing) state_->Close();
  else if (state_->closed) delete state_;
}

void UvHandle::SetRef(bool ref) {
  if (state_->closing || !state_->initialized) return;
  if (ref) uv_ref(&state_->uv.handle);
  else uv_unref(&state_->uv.handle);
}

UvPoll::UvPoll(Napi::Env env, int fd, std::function<void()> on_readable) : UvHandle(env, std::move(on_readable)) {
  error_ = uv_poll_init(LoopOf(env), &state_->uv.poll, fd);
  if (error_ != 0) return;  // inert: the owner reports error()
  state_->initialized = true;
  state_->uv.handle.data = state_;
  uv_poll_start(&state_->uv.poll, UV_READABLE, [](uv_poll_t* h, int, int) {
    static_cast<State*>(h->data)->callback();
  });
  SetRef(false);
}

UvPrepare::UvPrepare(Napi::Env env, std::function<void()> step) : UvHandle(env, std::move(step)) {
  uv_prepare_init(LoopOf(env), &state_->uv.prepare);  // cannot fail (libuv)
  state_->initialized = true;
  state_->uv.handle.data = state_;
  uv_prepare_start(&state_->uv.prepare, [](uv_prepare_t* h) { static_cast<State*>(h->data)->callback(); });
  SetRef(false);
}

}  // namespace crdma
