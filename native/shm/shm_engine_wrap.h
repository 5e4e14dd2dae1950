// ShmEngineWrap: the JS class `ShmEngine` — the shm:// engine on Node's loop. Its epoll fd
// is watched with uv_poll; EngineWrapBase holds what every engine wrap shares (send,
// close, poll mode, the driver, lifetime, teardown registration). Adds listen/connect on
// a rendezvous path, the per-connection ArrayBuffer, hold/release of frames read in
// place, frames written in place (reserve/commit/abandon a ring record), and stats.
#pragma once
#include <napi.h>

#include "common/engine_wrap_base.h"
#include "shm/shm_engine.h"

namespace crdma {

class ShmEngineWrap : public EngineWrapBase<ShmEngineWrap, shm::ShmEngine> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ShmEngineWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Buffer(const Napi::CallbackInfo& info);
  Napi::Value HoldFrame(const Napi::CallbackInfo& info);
  Napi::Value ReleaseFrame(const Napi::CallbackInfo& info);
  Napi::Value ReserveInPlace(const Napi::CallbackInfo& info);
  Napi::Value CommitInPlace(const Napi::CallbackInfo& info);
  Napi::Value AbandonInPlace(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
};

}  // namespace crdma
