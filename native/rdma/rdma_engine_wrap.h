// RdmaEngineWrap: the JS class `RdmaEngine` — RC queue pairs over rdma_cm on Node's loop.
// Watches the rdma_cm event channel and each device's completion channel with uv_poll.
// Constructing it throws "RDMA unavailable: …" (code ERR_RDMA_UNAVAILABLE) where
// rdma-core is not installed; the rest of the addon is unaffected.
#pragma once
#include <napi.h>

#include "common/engine_wrap_base.h"
#include "rdma/rdma_engine.h"

namespace crdma {

class RdmaEngineWrap : public EngineWrapBase<RdmaEngineWrap, RdmaEngine> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RdmaEngineWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value ProbeRead(const Napi::CallbackInfo& info);
  int WatchFd(Napi::Env env, int fd);  // 0, or the negative errno of uv_poll_init
};

}  // namespace crdma
