// UringEngineWrap: the JS class `UringEngine` — an io_uring engine on Node's loop. The ring's
// own fd is watched with uv_poll; EngineWrapBase holds what every engine wrap shares
// (send/close/hold methods, the driver, lifetime, teardown registration).
#pragma once
#include <napi.h>

#include "common/engine_wrap_base.h"
#include "uring/uring_engine.h"

namespace crdma {

class UringEngineWrap : public EngineWrapBase<UringEngineWrap, UringEngine> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit UringEngineWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value ListenTcp(const Napi::CallbackInfo& info);
  Napi::Value ListenUnix(const Napi::CallbackInfo& info);
  Napi::Value ConnectTcp(const Napi::CallbackInfo& info);
  Napi::Value ConnectUnix(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value PartialFrameBytes(const Napi::CallbackInfo& info);
  // drainSendRanges(): hands the send-range table to the engine now (JS calls it when the
  // table is full).
  Napi::Value DrainSendRanges(const Napi::CallbackInfo& info);
  Napi::Value AdoptKtls(const Napi::CallbackInfo& info);
  Napi::Value UlpOf(const Napi::CallbackInfo& info);

  Napi::Value Listen(Napi::Env env, sockaddr_storage addr, socklen_t len, int backlog, uint32_t first_frame_max, bool with_port,
                     unsigned unix_mode);
  Napi::Value Connect(Napi::Env env, const sockaddr_storage& addr, socklen_t len);

  // Keeps the send-range table's ArrayBuffer alive; the engine holds a raw pointer into it.
  // Destroyed before the base class frees the engine, which does not read the table
  // from its destructor.
  Napi::Reference<Napi::Uint32Array> send_ranges_;
};

}  // namespace crdma
