// See uv_handles.h.
#include "common/uv_handles.h"

namespace crdma {
namespace {
uv_loop_t* LoopOf(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  return loop;
}
}  // namespace

UvPoll::UvPoll(Napi::Env env, int fd, std::function<void()> on_readable)
    : handle_(new Handle{uv_poll_t{}, std::move(on_readable)}) {
  uv_poll_init(LoopOf(env), &handle_->poll, fd);
  handle_->poll.data = handle_;
  uv_poll_start(&handle_->poll, UV_READABLE, [](uv_poll_t* h, int, int) {
    static_cast<Handle*>(h->data)->callback();
  });
  SetRef(false);
}

UvPoll::~UvPoll() {
  uv_poll_stop(&handle_->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_->poll),
           [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
}

void UvPoll::SetRef(bool ref) {
  auto* h = reinterpret_cast<uv_handle_t*>(&handle_->poll);
  if (ref) uv_ref(h);
  else uv_unref(h);
}

UvPrepare::UvPrepare(Napi::Env env, std::function<void()> step)
    : handle_(new Handle{uv_prepare_t{}, std::move(step)}) {
  uv_prepare_init(LoopOf(env), &handle_->prepare);
  handle_->prepare.data = handle_;
  uv_prepare_start(&handle_->prepare, [](uv_prepare_t* h) { static_cast<Handle*>(h->data)->callback(); });
  uv_unref(reinterpret_cast<uv_handle_t*>(&handle_->prepare));
}

UvPrepare::~UvPrepare() {
  uv_prepare_stop(&handle_->prepare);
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_->prepare),
           [](uv_handle_t* h) { delete static_cast<Handle*>(h->data); });
}

}  // namespace crdma
