// EngineWrap: the JS class `UringEngine`. Owns a UringEngine and the two libuv handles
// that drive it on Node's own loop:
//   - uv_poll on the ring's eventfd: completions arrived -> reap, one JS call per batch;
//   - uv_prepare (runs before the loop blocks): flush the sends queued this turn in one
//     submission; in spin mode, busy-poll the completion queue for a bounded time.
// Events are written into a JS-owned Int32Array (4 ints each) and JS is called once per
// batch with the count, through MakeCallback so promise continuations run before the
// next flush. Destruction order: handles closed first, then the engine.
#pragma once
#include <napi.h>
#include <uv.h>

#include <memory>

#include "common/resource_registry.h"
#include "uring/engine.h"

namespace crdma {

class EngineWrap : public Napi::ObjectWrap<EngineWrap>, public TeardownCloseable, public EventSink {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit EngineWrap(const Napi::CallbackInfo& info);
  ~EngineWrap() override;

  void Push(const Event& event) override;
  void CloseForTeardown() override;

 private:
  Napi::Value ListenTcp(const Napi::CallbackInfo& info);
  Napi::Value ListenUnix(const Napi::CallbackInfo& info);
  Napi::Value ConnectTcp(const Napi::CallbackInfo& info);
  Napi::Value ConnectUnix(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value CloseConnection(const Napi::CallbackInfo& info);
  Napi::Value CloseListener(const Napi::CallbackInfo& info);
  Napi::Value HoldSlot(const Napi::CallbackInfo& info);
  Napi::Value ReleaseSlot(const Napi::CallbackInfo& info);
  Napi::Value SetPoll(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  bool Usable(Napi::Env env);
  void Dispatch();
  // Reap + dispatch + flush until idle; in spin mode keep polling for spin_ns_ after the
  // last activity (never longer than kSpinCapNs in one go, so timers still run).
  void Pump(bool spin);
  void OnPoll();
  void OnPrepare();
  void RefreshRef();
  void Shutdown();

  // Members in acquisition order; destruction runs in reverse.
  std::shared_ptr<ResourceRegistry> registry_;
  std::unique_ptr<UringEngine> engine_;
  Napi::Reference<Napi::Int32Array> events_ref_;
  int32_t* events_ = nullptr;
  uint32_t capacity_ = 0;  // events
  uint32_t count_ = 0;
  Napi::FunctionReference on_events_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  uv_poll_t* poll_ = nullptr;        // freed by its close callback
  uv_prepare_t* prepare_ = nullptr;  // freed by its close callback
  bool spin_ = false;
  uint64_t spin_ns_ = 50'000;
  bool pumping_ = false;
  bool shutdown_pending_ = false;  // close() called during a batch
};

}  // namespace crdma
