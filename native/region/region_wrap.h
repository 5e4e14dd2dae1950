// RegionWrap: the JS class `Region` over a MemoryRegion. It creates the region's one
// external ArrayBuffer (never a second one over the same memory: V8 aborts on that,
// nodejs/node#32463), allocates and frees leases, and closes (detaching the buffer).
#pragma once
#include <napi.h>

#include <memory>

#include "common/resource_registry.h"
#include "region/memory_region.h"

namespace crdma {

class RegionWrap : public Napi::ObjectWrap<RegionWrap>, public TeardownCloseable {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RegionWrap(const Napi::CallbackInfo& info);
  ~RegionWrap() override;

  // The region, or nullptr when closed.
  std::shared_ptr<MemoryRegion> region() const { return region_; }
  void CloseForTeardown() override;

 private:
  Napi::Value Buffer(const Napi::CallbackInfo& info);
  Napi::Value Alloc(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  // Members in acquisition order; destruction runs in reverse.
  std::shared_ptr<ResourceRegistry> registry_;
  std::shared_ptr<MemoryRegion> region_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
};

}  // namespace crdma
