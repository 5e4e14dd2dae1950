// EngineWrapBase<Wrap, Engine>: the JS methods every engine wrap shares (send, close a
// connection or listener, hold/release a received slot, poll mode, close), the engine's
// lifetime (deferred when JS closes it from inside a batch) and its registration for
// environment teardown. The io_uring and RDMA wraps add their own connect/listen/stats.
//
// Destruction order (members in acquisition order): the fd watchers stop first, then the
// driver's prepare step, then the engine is torn down.
#pragma once
#include <napi.h>

#include <memory>
#include <unordered_set>
#include <vector>

#include "common/addon.h"
#include "common/engine_driver.h"
#include "common/js_error.h"
#include "common/peer_identity_js.h"
#include "common/resource_registry.h"
#include "common/uv_handles.h"

namespace crdma {

template <typename Wrap, typename Engine>
class EngineWrapBase : public Napi::ObjectWrap<Wrap>, public TeardownCloseable {
 public:
  explicit EngineWrapBase(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<Wrap>(info), registry_(Addon::Of(info.Env())->registry()) {}
  ~EngineWrapBase() override {
    registry_->Remove(this);
    Shutdown();
  }
  void CloseForTeardown() override { Shutdown(); }

 protected:
  using Base = EngineWrapBase<Wrap, Engine>;

  // The shared methods, for Wrap::Define.
  static std::vector<typename Napi::ObjectWrap<Wrap>::PropertyDescriptor> CommonMethods() {
    using W = Napi::ObjectWrap<Wrap>;
    return {W::InstanceMethod("send", &Base::Send),
            W::InstanceMethod("closeConnection", &Base::CloseConnection),
            W::InstanceMethod("setRef", &Base::SetRef),
            W::InstanceMethod("closeListener", &Base::CloseListener),
            W::InstanceMethod("holdSlot", &Base::HoldSlot),
            W::InstanceMethod("releaseSlot", &Base::ReleaseSlot),
            W::InstanceMethod("unsentBytes", &Base::UnsentBytes),
            W::InstanceMethod("writtenBytes", &Base::WrittenBytes),
            W::InstanceMethod("peerOf", &Base::PeerOf),
            W::InstanceMethod("setPoll", &Base::SetPoll),
            W::InstanceMethod("setDispatchChunk", &Base::SetDispatchChunk),
            W::InstanceMethod("close", &Base::Close)};
  }

  // Called by Wrap's constructor once the engine exists.
  void Start(Napi::Env env, std::unique_ptr<Engine> engine, Napi::Int32Array events, Napi::Function on_events,
             const char* name) {
    engine_ = std::move(engine);
    driver_ = std::make_unique<EngineDriver>(env, events, on_events, name, engine_.get(),
                                             [this] { return this->Value(); });
    driver_->set_after_step([this] {
      if (close_pending_ || driver_->js_gone()) Shutdown();
      else RefreshRef();
    });
    registry_->Add(this);
  }

  // Watch one more fd of the engine (a ring fd, a completion channel, a CM channel):
  // 0, or the negative errno of uv_poll_init (nothing is watched; the caller reports it).
  int Watch(Napi::Env env, int fd, std::function<void()> drain = nullptr) {
    auto poll = std::make_unique<UvPoll>(env, fd, [this, drain] {
      if (drain) drain();
      if (driver_) driver_->OnReadable();
    });
    if (int rc = poll->error(); rc != 0) return rc;
    watchers_.push_back(std::move(poll));
    RefreshRef();
    return 0;
  }

  bool Usable(Napi::Env env) {
    if (engine_ && !close_pending_) return true;
    ThrowCoded(env, "ERR_ENGINE_CLOSED", "engine is closed");
    return false;
  }

  // The fd watchers keep the event loop alive while the engine has a listener or a
  // connection JS did not unref (setRef): an idle connection alone lets the process exit,
  // as an unref'd node:net socket does. Unref'd ids the engine no longer has are dropped.
  void RefreshRef() {
    size_t unrefd = 0;
    double unsent = 0, written = 0;
    for (auto it = unrefd_.begin(); it != unrefd_.end();) {
      if (engine_ && engine_->SendBacklog(*it, &unsent, &written)) {
        ++unrefd;
        ++it;
      } else {
        it = unrefd_.erase(it);
      }
    }
    bool active = engine_ && engine_->active() > unrefd;
    for (auto& w : watchers_) w->SetRef(active);
  }

  Engine* engine() { return engine_.get(); }

 private:
  // send(connection, leaseOffset, length) -> 0 or -errno; the lease is the engine's now.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!engine_) return Napi::Number::New(env, -EBADF);
    engine_->DrainSendRanges();  // frames written into send packs before this one go first
    return Napi::Number::New(env, engine_->Send(info[0].As<Napi::Number>().Uint32Value(),
                                                static_cast<size_t>(info[1].As<Napi::Number>().Int64Value()),
                                                info[2].As<Napi::Number>().Uint32Value()));
  }
  // closeConnection(connection, graceful): graceful sends what is queued first.
  Napi::Value CloseConnection(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!engine_) return Napi::Number::New(env, -EBADF);
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    unrefd_.erase(id);
    engine_->DrainSendRanges();
    int rc = engine_->CloseConnection(id, info[1].ToBoolean().Value());
    RefreshRef();
    return Napi::Number::New(env, rc);
  }
  // setRef(connection, keepsAlive): false lets the loop exit while this connection is
  // the engine's only activity; a connection being closed always counts (its queued frames leave).
  Napi::Value SetRef(const Napi::CallbackInfo& info) {
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    if (info[1].ToBoolean().Value()) unrefd_.erase(id);
    else unrefd_.insert(id);
    RefreshRef();
    return info.Env().Undefined();
  }
  Napi::Value CloseListener(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!engine_) return Napi::Number::New(env, -EBADF);
    int rc = engine_->CloseListener(info[0].As<Napi::Number>().Uint32Value());
    RefreshRef();
    return Napi::Number::New(env, rc);
  }
  Napi::Value HoldSlot(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!engine_) return Napi::Number::New(env, -EBADF);
    return Napi::Number::New(env, engine_->HoldSlot(static_cast<size_t>(info[0].As<Napi::Number>().Int64Value())));
  }
  Napi::Value ReleaseSlot(const Napi::CallbackInfo& info) {
    if (engine_) engine_->ReleaseSlot(info[0].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }
  // unsentBytes(connection) / writtenBytes(connection): lease bytes handed over and not
  // yet written, and bytes written so far (-ENOTCONN for a connection that is gone).
  Napi::Value UnsentBytes(const Napi::CallbackInfo& info) { return Backlog(info, true); }
  Napi::Value WrittenBytes(const Napi::CallbackInfo& info) { return Backlog(info, false); }
  Napi::Value Backlog(const Napi::CallbackInfo& info, bool unsent) {
    Napi::Env env = info.Env();
    double unsent_bytes = 0, written_bytes = 0;
    if (engine_) engine_->DrainSendRanges();
    if (!engine_ || !engine_->SendBacklog(info[0].As<Napi::Number>().Uint32Value(), &unsent_bytes, &written_bytes)) {
      return Napi::Number::New(env, -ENOTCONN);
    }
    return Napi::Number::New(env, unsent ? unsent_bytes : written_bytes);
  }
  // peerOf(connection) -> NativePeer read at accept/connect, or undefined when gone or unknown.
  Napi::Value PeerOf(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const PeerIdentity* peer = engine_ ? engine_->PeerOf(info[0].As<Napi::Number>().Uint32Value()) : nullptr;
    if (peer == nullptr) return env.Undefined();
    return PeerIdentityToJs(env, *peer);
  }
  // setPoll(spin: boolean, spinMicros: number)
  Napi::Value SetPoll(const Napi::CallbackInfo& info) {
    if (driver_) {
      driver_->SetSpin(info[0].ToBoolean().Value(),
                       static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue() * 1000.0));
    }
    return info.Env().Undefined();
  }
  // setDispatchChunk(events: number): 0 = one JS callback per batch.
  Napi::Value SetDispatchChunk(const Napi::CallbackInfo& info) {
    if (driver_) driver_->SetChunk(info[0].As<Napi::Number>().Uint32Value());
    return info.Env().Undefined();
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (engine_) engine_->DrainSendRanges();  // last ranges free their packs
    registry_->Remove(this);
    Shutdown();
    return info.Env().Undefined();
  }

  // Frees the engine; deferred to the end of the batch when called from inside one.
  void Shutdown() {
    if (driver_ && driver_->pumping()) {
      close_pending_ = true;
      driver_->RequestStop();
      return;
    }
    if (driver_) driver_->RequestStop();  // the driver itself lives until the wrap dies
    watchers_.clear();
    engine_.reset();
  }

  std::shared_ptr<ResourceRegistry> registry_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<EngineDriver> driver_;
  std::vector<std::unique_ptr<UvPoll>> watchers_;
  std::unordered_set<uint32_t> unrefd_;  // connections that do not keep the loop alive
  bool close_pending_ = false;
};

}  // namespace crdma
