// Addon: per-environment state of the native module (no static globals): the registry
// of live resources and the class constructors. Environment teardown destroys it, which
// closes every resource JS left open.
#pragma once
#include <napi.h>

#include <memory>

#include "common/resource_registry.h"

namespace crdma {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports);
  ~Addon();
  Addon(const Addon&) = delete;
  Addon& operator=(const Addon&) = delete;

  const std::shared_ptr<ResourceRegistry>& registry() const { return registry_; }
  static Addon* Of(Napi::Env env) { return env.GetInstanceData<Addon>(); }

 private:
  Napi::Value Capabilities(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);

  std::shared_ptr<ResourceRegistry> registry_ = std::make_shared<ResourceRegistry>();
};

}  // namespace crdma
