// See shm_engine_wrap.h.
#include "shm/shm_engine_wrap.h"

#include <string>

#include "common/js_error.h"
#include "region/region_wrap.h"

namespace crdma {

Napi::Function ShmEngineWrap::Define(Napi::Env env) {
  auto methods = CommonMethods();
  methods.push_back(InstanceMethod<&ShmEngineWrap::Listen>("listen"));
  methods.push_back(InstanceMethod<&ShmEngineWrap::Connect>("connect"));
  methods.push_back(InstanceMethod<&ShmEngineWrap::Buffer>("buffer"));
  methods.push_back(InstanceMethod<&ShmEngineWrap::HoldFrame>("holdFrame"));
  methods.push_back(InstanceMethod<&ShmEngineWrap::ReleaseFrame>("releaseFrame"));
  methods.push_back(InstanceMethod<&ShmEngineWrap::ReserveInPlace>("reserveInPlace"));
  methods.push_back(InstanceMethod<&ShmEngineWrap::CommitInPlace>("commitInPlace"));
  methods.push_back(InstanceMethod<&ShmEngineWrap::AbandonInPlace>("abandonInPlace"));
  methods.push_back(InstanceMethod<&ShmEngineWrap::Stats>("stats"));
  return DefineClass(env, "ShmEngine", methods);
}

// new ShmEngine(region, ringBytes, maxFrameBytes, sameUserOnly, events: Int32Array, onEvents(count))
// Arguments are validated in TypeScript (src/channel/shm-engine.ts).
ShmEngineWrap::ShmEngineWrap(const Napi::CallbackInfo& info) : Base(info) {
  Napi::Env env = info.Env();
  RegionWrap* region = RegionWrap::Unwrap(info[0].As<Napi::Object>());
  if (!region || !region->region()) {
    ThrowCoded(env, "ERR_REGION_CLOSED", "ShmEngine needs an open Region");
    return;
  }
  shm::ShmOptions options;
  options.ring_bytes = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
  options.max_frame_bytes = info[2].As<Napi::Number>().Uint32Value();
  options.same_user_only = info[3].ToBoolean().Value();
  if (info.Length() > 6 && info[6].IsNumber()) options.rendezvous_timeout_ms = info[6].As<Napi::Number>().Uint32Value();
  std::unique_ptr<shm::ShmEngine> made;
  try {
    made = std::make_unique<shm::ShmEngine>(region->region(), options);
  } catch (const SysError& e) {
    ThrowSysError(env, e);
    return;
  }
  int poll_fd = made->poll_fd();
  Start(env, std::move(made), info[4].As<Napi::Int32Array>(), info[5].As<Napi::Function>(), "connect-rdma:shm");
  int rc = Watch(env, poll_fd, [this] {
    if (engine()) engine()->MarkIoReady();
  });
  if (rc != 0) ThrowSysError(env, SysError{-rc, "uv_poll_init (watching the engine's fd)"});
}

// The ids of a JS array of numbers (checked in JS: unix-admission.ts).
static std::vector<uint32_t> IdsOf(const Napi::Value& value) {
  std::vector<uint32_t> ids;
  if (!value.IsArray()) return ids;
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) ids.push_back(array.Get(i).As<Napi::Number>().Uint32Value());
  return ids;
}

// listen(path, backlog, mode, allowUids?, allowGids?) -> id; with either list, only peers
// it admits are taken (shm::Admission)
Napi::Value ShmEngineWrap::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  shm::Admission admission;
  admission.restricted = info[3].IsArray() || info[4].IsArray();
  admission.uids = IdsOf(info[3]);
  admission.gids = IdsOf(info[4]);
  try {
    uint32_t id = engine()->Listen(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().Int32Value(),
                                  info[2].As<Napi::Number>().Uint32Value(), std::move(admission));
    RefreshRef();
    return Napi::Number::New(env, id);
  } catch (const SysError& e) {
    ThrowSysError(env, e);
    return env.Undefined();
  }
}

// connect(path) -> id (a Connected event follows once the region arrived)
Napi::Value ShmEngineWrap::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  try {
    uint32_t id = engine()->Connect(info[0].As<Napi::String>().Utf8Value());
    RefreshRef();
    return Napi::Number::New(env, id);
  } catch (const SysError& e) {
    ThrowSysError(env, e);
    return env.Undefined();
  }
}

// buffer(connection) -> the one ArrayBuffer over the connection's mapping (once), else undefined.
// Its finalizer holds a share of the mapping: views stay valid after the connection ends.
Napi::Value ShmEngineWrap::Buffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!engine()) return env.Undefined();
  std::shared_ptr<shm::ShmMapping> mapping = engine()->TakeMapping(info[0].As<Napi::Number>().Uint32Value());
  if (!mapping) return env.Undefined();
  auto* keep = new std::shared_ptr<shm::ShmMapping>(mapping);
  return Napi::ArrayBuffer::New(
      env, mapping->base(), mapping->size(),
      [](Napi::Env, void*, std::shared_ptr<shm::ShmMapping>* hint) { delete hint; }, keep);
}

// holdFrame(connection, offset) -> token (>= 0) or -errno
Napi::Value ShmEngineWrap::HoldFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!engine()) return Napi::Number::New(env, -EBADF);
  return Napi::Number::New(env, engine()->HoldFrame(info[0].As<Napi::Number>().Uint32Value(),
                                                    static_cast<size_t>(info[1].As<Napi::Number>().Int64Value())));
}

// releaseFrame(connection, token)
Napi::Value ShmEngineWrap::ReleaseFrame(const Napi::CallbackInfo& info) {
  if (engine()) {
    engine()->ReleaseFrame(info[0].As<Napi::Number>().Uint32Value(), info[1].As<Napi::Number>().DoubleValue());
  }
  return info.Env().Undefined();
}

// reserveInPlace(connection, length) -> body offset in the connection's mapping, or -1
Napi::Value ShmEngineWrap::ReserveInPlace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!engine()) return Napi::Number::New(env, -1);
  return Napi::Number::New(env, engine()->ReserveInPlace(info[0].As<Napi::Number>().Uint32Value(),
                                                         info[1].As<Napi::Number>().Uint32Value()));
}

// commitInPlace(connection, offset, length) -> 0 or -errno
Napi::Value ShmEngineWrap::CommitInPlace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!engine()) return Napi::Number::New(env, -EBADF);
  return Napi::Number::New(env, engine()->CommitInPlace(info[0].As<Napi::Number>().Uint32Value(),
                                                        static_cast<size_t>(info[1].As<Napi::Number>().Int64Value()),
                                                        info[2].As<Napi::Number>().Uint32Value()));
}

// abandonInPlace(connection, offset)
Napi::Value ShmEngineWrap::AbandonInPlace(const Napi::CallbackInfo& info) {
  if (engine()) {
    engine()->AbandonInPlace(info[0].As<Napi::Number>().Uint32Value(),
                             static_cast<size_t>(info[1].As<Napi::Number>().Int64Value()));
  }
  return info.Env().Undefined();
}

Napi::Value ShmEngineWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  if (!engine()) return out;
  const shm::ShmStats& s = engine()->stats();
  out.Set("framesIn", s.frames_in);
  out.Set("framesOut", s.frames_out);
  out.Set("bytesIn", s.bytes_in);
  out.Set("bytesOut", s.bytes_out);
  out.Set("sendCopies", s.send_copies);
  out.Set("framesInPlace", s.frames_in_place);
  out.Set("wakesSent", s.wakes_sent);
  out.Set("wakeups", s.wakeups);
  out.Set("rejectedPeers", s.rejected_peers);
  out.Set("refusedPeers", s.refused_peers);
  out.Set("protocolErrors", s.protocol_errors);
  out.Set("rendezvousTimeouts", s.rendezvous_timeouts);
  out.Set("rendezvousRefused", s.rendezvous_refused);
  out.Set("active", static_cast<double>(engine()->active()));
  return out;
}

}  // namespace crdma
