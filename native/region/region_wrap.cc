// See region_wrap.h.
#include "region/region_wrap.h"

#include "common/addon.h"
#include "common/js_error.h"

namespace crdma {

Napi::Function RegionWrap::Define(Napi::Env env) {
  return DefineClass(env, "Region",
                     {InstanceAccessor<&RegionWrap::Buffer>("buffer"),
                      InstanceMethod<&RegionWrap::Alloc>("alloc"),
                      InstanceMethod<&RegionWrap::Free>("free"),
                      InstanceMethod<&RegionWrap::Close>("close"),
                      InstanceMethod<&RegionWrap::Stats>("stats")});
}

// new Region(slotSize, recvSlots, leaseBytes, poison) — validated in TS.
RegionWrap::RegionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RegionWrap>(info) {
  Napi::Env env = info.Env();
  registry_ = Addon::Of(env)->registry();
  RegionLayout layout{static_cast<size_t>(info[0].As<Napi::Number>().Int64Value()),
                      info[1].As<Napi::Number>().Uint32Value(),
                      static_cast<size_t>(info[2].As<Napi::Number>().Int64Value())};
  try {
    region_ = std::make_shared<MemoryRegion>(layout);
  } catch (const SysError& e) {
    ThrowSysError(env, e);
    return;
  }
  region_->set_poison(info[3].ToBoolean().Value());
  // The ArrayBuffer's finalizer owns one reference to the mapping.
  auto* keep = new std::shared_ptr<MemoryRegion>(region_);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
      env, region_->base(), region_->size(),
      [](Napi::Env, void*, std::shared_ptr<MemoryRegion>* hint) { delete hint; }, keep);
  buffer_ = Napi::Persistent(buffer);
  registry_->Add(this);
}

RegionWrap::~RegionWrap() { registry_->Remove(this); }

void RegionWrap::CloseForTeardown() {
  if (region_) region_->Close();
  region_.reset();
}

Napi::Value RegionWrap::Buffer(const Napi::CallbackInfo& info) {
  if (buffer_.IsEmpty()) return info.Env().Undefined();
  return buffer_.Value();
}

Napi::Value RegionWrap::Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!region_) {
    ThrowCoded(env, "ERR_REGION_CLOSED", "Region is closed");
    return env.Undefined();
  }
  int64_t off = region_->AllocateLease(static_cast<size_t>(info[0].As<Napi::Number>().Int64Value()));
  return Napi::Number::New(env, static_cast<double>(off));
}

Napi::Value RegionWrap::Free(const Napi::CallbackInfo& info) {
  if (!region_) return Napi::Boolean::New(info.Env(), false);
  bool ok = region_->FreeLease(static_cast<size_t>(info[0].As<Napi::Number>().Int64Value()));
  return Napi::Boolean::New(info.Env(), ok);
}

// Detaches the ArrayBuffer (every view now reads length 0) and drops this object's
// reference to the mapping; engines still registered on it keep it alive until they close.
Napi::Value RegionWrap::Close(const Napi::CallbackInfo& info) {
  if (!buffer_.IsEmpty()) {
    Napi::ArrayBuffer buffer = buffer_.Value();
    if (!buffer.IsDetached()) buffer.Detach();
    buffer_.Reset();
  }
  CloseForTeardown();
  registry_->Remove(this);
  return info.Env().Undefined();
}

Napi::Value RegionWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("closed", Napi::Boolean::New(env, !region_));
  if (!region_) return out;
  out.Set("size", Napi::Number::New(env, static_cast<double>(region_->size())));
  out.Set("slotSize", Napi::Number::New(env, static_cast<double>(region_->slot_size())));
  out.Set("recvSlots", Napi::Number::New(env, region_->recv_slots()));
  out.Set("recvAreaBytes", Napi::Number::New(env, static_cast<double>(region_->recv_area_bytes())));
  out.Set("leaseBytes", Napi::Number::New(env, static_cast<double>(region_->lease_area_bytes())));
  out.Set("leaseUnit", Napi::Number::New(env, static_cast<double>(LeaseAllocator::kUnit)));
  out.Set("leaseBytesInUse", Napi::Number::New(
      env, static_cast<double>(region_->leases().used_units() * LeaseAllocator::kUnit)));
  out.Set("liveLeases", Napi::Number::New(env, static_cast<double>(region_->leases().live_leases())));
  return out;
}

}  // namespace crdma
