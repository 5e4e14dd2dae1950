// See engine_wrap.h.
#include "uring/engine_wrap.h"

#include <arpa/inet.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/addon.h"
#include "common/js_error.h"
#include "region/region_wrap.h"

namespace crdma {
namespace {

// Fills a sockaddr from a numeric IP string and a port; false when not an IP literal.
bool InetAddress(const std::string& ip, int port, sockaddr_storage* out, socklen_t* len) {
  *out = sockaddr_storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

bool UnixAddress(const std::string& path, sockaddr_storage* out, socklen_t* len) {
  *out = sockaddr_storage{};
  auto* un = reinterpret_cast<sockaddr_un*>(out);
  if (path.empty() || path.size() >= sizeof(un->sun_path)) return false;
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path, path.data(), path.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return true;
}

int BoundPort(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  return 0;
}

}  // namespace

Napi::Function EngineWrap::Define(Napi::Env env) {
  return DefineClass(env, "UringEngine",
                     {InstanceMethod<&EngineWrap::ListenTcp>("listenTcp"),
                      InstanceMethod<&EngineWrap::ListenUnix>("listenUnix"),
                      InstanceMethod<&EngineWrap::ConnectTcp>("connectTcp"),
                      InstanceMethod<&EngineWrap::ConnectUnix>("connectUnix"),
                      InstanceMethod<&EngineWrap::Send>("send"),
                      InstanceMethod<&EngineWrap::CloseConnection>("closeConnection"),
                      InstanceMethod<&EngineWrap::CloseListener>("closeListener"),
                      InstanceMethod<&EngineWrap::HoldSlot>("holdSlot"),
                      InstanceMethod<&EngineWrap::ReleaseSlot>("releaseSlot"),
                      InstanceMethod<&EngineWrap::SetPoll>("setPoll"),
                      InstanceMethod<&EngineWrap::Stats>("stats"),
                      InstanceMethod<&EngineWrap::Close>("close")});
}

// new UringEngine(region, ringEntries, maxFrameBytes, events: Int32Array, onEvents(count))
// Arguments are validated in TypeScript (src/channel/uring-engine.ts).
EngineWrap::EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
  Napi::Env env = info.Env();
  registry_ = Addon::Of(env)->registry();
  RegionWrap* region = RegionWrap::Unwrap(info[0].As<Napi::Object>());
  if (!region || !region->region()) {
    ThrowCoded(env, "ERR_REGION_CLOSED", "UringEngine needs an open Region");
    return;
  }
  EngineOptions options;
  options.ring_entries = info[1].As<Napi::Number>().Uint32Value();
  options.max_frame_bytes = info[2].As<Napi::Number>().Uint32Value();
  try {
    engine_ = std::make_unique<UringEngine>(region->region(), options);
  } catch (const SysError& e) {
    ThrowSysError(env, e);
    return;
  }
  driver_ = std::make_unique<EngineDriver>(env, info[3].As<Napi::Int32Array>(), info[4].As<Napi::Function>(),
                                           "connect-rdma:uring", engine_.get(), [this] { return Value(); });
  driver_->set_after_pump([this] {
    if (close_pending_) Shutdown();
    else RefreshRef();
  });
  poll_ = std::make_unique<UvPoll>(env, engine_->event_fd(), [this] {
    uint64_t value;
    while (read(engine_->event_fd(), &value, sizeof value) > 0) {
    }
    driver_->OnReadable();
  });
  RefreshRef();
  registry_->Add(this);
}

EngineWrap::~EngineWrap() {
  registry_->Remove(this);
  Shutdown();
}

void EngineWrap::CloseForTeardown() { Shutdown(); }

void EngineWrap::Shutdown() {
  if (driver_ && driver_->pumping()) {  // JS closed us from inside a batch: finish it first
    close_pending_ = true;
    driver_->RequestStop();
    return;
  }
  if (driver_) driver_->RequestStop();  // the driver itself lives until the wrap dies
  poll_.reset();
  engine_.reset();  // closes sockets, unregisters buffers, tears down the ring
}

bool EngineWrap::Usable(Napi::Env env) {
  if (engine_ && !close_pending_) return true;
  ThrowCoded(env, "ERR_ENGINE_CLOSED", "UringEngine is closed");
  return false;
}

void EngineWrap::RefreshRef() {
  if (poll_ && engine_) poll_->SetRef(engine_->active() > 0);
}

Napi::Value EngineWrap::Listen(Napi::Env env, sockaddr_storage addr, socklen_t len, int backlog,
                               bool with_port) {
  try {
    uint32_t id = engine_->Listen(&addr, &len, backlog);
    RefreshRef();
    if (!with_port) return Napi::Number::New(env, id);
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, Napi::Number::New(env, id));
    out.Set(1u, Napi::Number::New(env, BoundPort(addr)));
    return out;
  } catch (const SysError& e) {
    ThrowSysError(env, e);
    return env.Undefined();
  }
}

Napi::Value EngineWrap::Connect(Napi::Env env, const sockaddr_storage& addr, socklen_t len) {
  try {
    uint32_t id = engine_->Connect(addr, len);
    RefreshRef();
    return Napi::Number::New(env, id);
  } catch (const SysError& e) {
    ThrowSysError(env, e);
    return env.Undefined();
  }
}

// listenTcp(ip, port, backlog) -> [id, boundPort]
Napi::Value EngineWrap::ListenTcp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  sockaddr_storage addr;
  socklen_t len;
  if (!InetAddress(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().Int32Value(), &addr, &len)) {
    Napi::TypeError::New(env, "listenTcp needs a numeric IP address").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Listen(env, addr, len, info[2].As<Napi::Number>().Int32Value(), true);
}

// listenUnix(path, backlog) -> id
Napi::Value EngineWrap::ListenUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  sockaddr_storage addr;
  socklen_t len;
  if (!UnixAddress(info[0].As<Napi::String>().Utf8Value(), &addr, &len)) {
    Napi::RangeError::New(env, "unix socket path is empty or too long").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Listen(env, addr, len, info[1].As<Napi::Number>().Int32Value(), false);
}

// connectTcp(ip, port) -> id (a Connected event follows)
Napi::Value EngineWrap::ConnectTcp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  sockaddr_storage addr;
  socklen_t len;
  if (!InetAddress(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().Int32Value(), &addr, &len)) {
    Napi::TypeError::New(env, "connectTcp needs a numeric IP address").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Connect(env, addr, len);
}

// connectUnix(path) -> id (a Connected event follows)
Napi::Value EngineWrap::ConnectUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  sockaddr_storage addr;
  socklen_t len;
  if (!UnixAddress(info[0].As<Napi::String>().Utf8Value(), &addr, &len)) {
    Napi::RangeError::New(env, "unix socket path is empty or too long").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Connect(env, addr, len);
}

// send(connection, leaseOffset, length) -> 0 or -errno. Ownership of the lease moves to
// the engine in both cases.
Napi::Value EngineWrap::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!engine_) return Napi::Number::New(env, -EBADF);
  int rc = engine_->Send(info[0].As<Napi::Number>().Uint32Value(),
                         static_cast<size_t>(info[1].As<Napi::Number>().Int64Value()),
                         info[2].As<Napi::Number>().Uint32Value());
  return Napi::Number::New(env, rc);
}

Napi::Value EngineWrap::CloseConnection(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!engine_) return Napi::Number::New(env, -EBADF);
  int rc = engine_->CloseConnection(info[0].As<Napi::Number>().Uint32Value());
  RefreshRef();
  return Napi::Number::New(env, rc);
}

Napi::Value EngineWrap::CloseListener(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!engine_) return Napi::Number::New(env, -EBADF);
  int rc = engine_->CloseListener(info[0].As<Napi::Number>().Uint32Value());
  RefreshRef();
  return Napi::Number::New(env, rc);
}

Napi::Value EngineWrap::HoldSlot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!engine_) return Napi::Number::New(env, -EBADF);
  return Napi::Number::New(env, engine_->HoldSlot(static_cast<size_t>(info[0].As<Napi::Number>().Int64Value())));
}

Napi::Value EngineWrap::ReleaseSlot(const Napi::CallbackInfo& info) {
  if (engine_) engine_->ReleaseSlot(info[0].As<Napi::Number>().Uint32Value());
  return info.Env().Undefined();
}

// setPoll(spin: boolean, spinMicros: number)
Napi::Value EngineWrap::SetPoll(const Napi::CallbackInfo& info) {
  if (driver_) {
    driver_->SetSpin(info[0].ToBoolean().Value(),
                     static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue() * 1000.0));
  }
  return info.Env().Undefined();
}

Napi::Value EngineWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  if (!engine_) return out;
  const EngineStats& s = engine_->stats();
  out.Set("framesIn", s.frames_in);
  out.Set("bytesIn", s.bytes_in);
  out.Set("framesOut", s.frames_out);
  out.Set("bytesOut", s.bytes_out);
  out.Set("reassembled", s.reassembled);
  out.Set("reassembledBytes", s.reassembled_bytes);
  out.Set("recvCompletions", s.recv_completions);
  out.Set("submits", s.submits);
  out.Set("batches", s.batches);
  out.Set("bufferStarvations", s.buffer_starvations);
  out.Set("active", static_cast<double>(engine_->active()));
  out.Set("setupFlags", static_cast<double>(engine_->setup_flags()));
  return out;
}

Napi::Value EngineWrap::Close(const Napi::CallbackInfo& info) {
  registry_->Remove(this);
  Shutdown();
  return info.Env().Undefined();
}

}  // namespace crdma
