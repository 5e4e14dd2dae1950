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

#include <memory>

#include "common/engine_driver.h"
#include "common/resource_registry.h"
#include "common/uv_handles.h"
#include "uring/engine.h"

namespace crdma {

class EngineWrap : public Napi::ObjectWrap<EngineWrap>, public TeardownCloseable {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit EngineWrap(const Napi::CallbackInfo& info);
  ~EngineWrap() override;

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
  Napi::Value Listen(Napi::Env env, sockaddr_storage addr, socklen_t len, int backlog, bool with_port);
  Napi::Value Connect(Napi::Env env, const sockaddr_storage& addr, socklen_t len);
  void RefreshRef();
  // Frees the engine; deferred to the end of the batch when called from inside one.
  void Shutdown();

  // Members in acquisition order; destruction runs in reverse: stop watching the
  // eventfd, stop the driver's prepare step, then tear the engine down.
  std::shared_ptr<ResourceRegistry> registry_;
  std::unique_ptr<UringEngine> engine_;
  std::unique_ptr<EngineDriver> driver_;
  std::unique_ptr<UvPoll> poll_;
  bool close_pending_ = false;  // close() called during a batch
};

}  // namespace crdma
