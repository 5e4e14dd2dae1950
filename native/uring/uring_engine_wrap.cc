// See uring_engine_wrap.h.
#include "uring/uring_engine_wrap.h"

#include <string.h>

#include <string>

#include "common/js_error.h"
#include "common/socket_address.h"
#include "region/region_wrap.h"
#include "uring/ktls_socket.h"

namespace crdma {

Napi::Function UringEngineWrap::Define(Napi::Env env) {
  auto methods = CommonMethods();
  methods.push_back(InstanceMethod<&UringEngineWrap::ListenTcp>("listenTcp"));
  methods.push_back(InstanceMethod<&UringEngineWrap::ListenUnix>("listenUnix"));
  methods.push_back(InstanceMethod<&UringEngineWrap::ConnectTcp>("connectTcp"));
  methods.push_back(InstanceMethod<&UringEngineWrap::ConnectUnix>("connectUnix"));
  methods.push_back(InstanceMethod<&UringEngineWrap::Stats>("stats"));
  methods.push_back(InstanceMethod<&UringEngineWrap::PartialFrameBytes>("partialFrameBytes"));
  methods.push_back(InstanceMethod<&UringEngineWrap::DrainSendRanges>("drainSendRanges"));
  methods.push_back(InstanceMethod<&UringEngineWrap::AdoptKtls>("adoptKtls"));
  methods.push_back(InstanceMethod<&UringEngineWrap::UlpOf>("ulpOf"));
  return DefineClass(env, "UringEngine", methods);
}

// partialFrameBytes(connection): bytes of the frame being received so far, -1 when gone.
Napi::Value UringEngineWrap::PartialFrameBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!engine()) return Napi::Number::New(env, -1);
  return Napi::Number::New(env, engine()->PartialFrameBytes(info[0].As<Napi::Number>().Uint32Value()));
}

Napi::Value UringEngineWrap::DrainSendRanges(const Napi::CallbackInfo& info) {
  if (engine()) engine()->DrainSendRanges();
  return info.Env().Undefined();
}

// new UringEngine(region, ringEntries, maxFrameBytes, maxUnsentBytes, events: Int32Array,
//                 onEvents(count), sendRanges: Uint32Array (uring_engine.h, send packs))
// Arguments are validated in TypeScript (src/channel/uring-engine.ts).
UringEngineWrap::UringEngineWrap(const Napi::CallbackInfo& info) : Base(info) {
  Napi::Env env = info.Env();
  RegionWrap* region = RegionWrap::Unwrap(info[0].As<Napi::Object>());
  if (!region || !region->region()) {
    ThrowCoded(env, "ERR_REGION_CLOSED", "UringEngine needs an open Region");
    return;
  }
  UringEngineOptions options;
  options.ring_entries = info[1].As<Napi::Number>().Uint32Value();
  options.max_frame_bytes = info[2].As<Napi::Number>().Uint32Value();
  options.max_unsent_bytes = static_cast<size_t>(info[3].As<Napi::Number>().Int64Value());
  std::unique_ptr<UringEngine> engine;
  try {
    engine = std::make_unique<UringEngine>(region->region(), options);
  } catch (const SysError& e) {
    ThrowSysError(env, e);
    return;
  }
  int poll_fd = engine->poll_fd();
  if (info.Length() > 6 && info[6].IsTypedArray()) {
    Napi::Uint32Array ranges = info[6].As<Napi::Uint32Array>();
    size_t words = ranges.ElementLength();
    if (words > UringEngine::kSendRangeHeaderWords) {
      send_ranges_ = Napi::Persistent(ranges);
      engine->SetSendRanges(ranges.Data(), (words - UringEngine::kSendRangeHeaderWords) / UringEngine::kSendRangeWords);
    }
  }
  Start(env, std::move(engine), info[4].As<Napi::Int32Array>(), info[5].As<Napi::Function>(), "connect-rdma:uring");
  // Nothing to drain: the ring fd stops being readable once Reap() emptied the CQ.
  if (int rc = Watch(env, poll_fd); rc != 0) ThrowSysError(env, SysError{-rc, "uv_poll_init (watching the ring fd)"});
}

Napi::Value UringEngineWrap::Listen(Napi::Env env, sockaddr_storage addr, socklen_t len, int backlog,
                               uint32_t first_frame_max, bool with_port, unsigned unix_mode) {
  try {
    uint32_t id = engine()->Listen(&addr, &len, backlog, unix_mode, first_frame_max);
    RefreshRef();
    if (!with_port) return Napi::Number::New(env, id);
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, Napi::Number::New(env, id));
    out.Set(1u, Napi::Number::New(env, PortOf(addr)));
    return out;
  } catch (const SysError& e) {
    ThrowSysError(env, e);
    return env.Undefined();
  }
}

Napi::Value UringEngineWrap::Connect(Napi::Env env, const sockaddr_storage& addr, socklen_t len) {
  try {
    uint32_t id = engine()->Connect(addr, len);
    RefreshRef();
    return Napi::Number::New(env, id);
  } catch (const SysError& e) {
    ThrowSysError(env, e);
    return env.Undefined();
  }
}

// listenTcp(ip, port, backlog, firstFrameMax) -> [id, boundPort]
Napi::Value UringEngineWrap::ListenTcp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  sockaddr_storage addr;
  socklen_t len;
  if (!InetAddress(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().Int32Value(), &addr, &len)) {
    Napi::TypeError::New(env, "listenTcp needs a numeric IP address").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Listen(env, addr, len, info[2].As<Napi::Number>().Int32Value(), info[3].As<Napi::Number>().Uint32Value(), true, 0);
}

// listenUnix(path, backlog, mode, firstFrameMax) -> id; the socket file gets `mode` (BindUnixSocket)
Napi::Value UringEngineWrap::ListenUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  sockaddr_storage addr;
  socklen_t len;
  if (!UnixAddress(info[0].As<Napi::String>().Utf8Value(), &addr, &len)) {
    Napi::RangeError::New(env, "unix socket path is empty or too long").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Listen(env, addr, len, info[1].As<Napi::Number>().Int32Value(), info[3].As<Napi::Number>().Uint32Value(), false,
                info[2].As<Napi::Number>().Uint32Value());
}

// connectTcp(ip, port) -> id (a Connected event follows)
Napi::Value UringEngineWrap::ConnectTcp(const Napi::CallbackInfo& info) {
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
Napi::Value UringEngineWrap::ConnectUnix(const Napi::CallbackInfo& info) {
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

namespace {
// One direction's key material from JS: key and iv as Uint8Arrays, the sequence number as
// a Number (an exact integer: JS checks it is below 2^53).
KtlsDirection DirectionOf(const Napi::Value& key, const Napi::Value& iv, const Napi::Value& sequence) {
  Napi::Uint8Array k = key.As<Napi::Uint8Array>();
  Napi::Uint8Array v = iv.As<Napi::Uint8Array>();
  KtlsDirection d;
  d.key.assign(k.Data(), k.Data() + k.ElementLength());
  d.iv.assign(v.Data(), v.Data() + v.ElementLength());
  d.sequence = static_cast<uint64_t>(sequence.As<Napi::Number>().Int64Value());
  return d;
}

// Overwrites a direction's key material before its vectors free it.
void Wipe(KtlsDirection& d) {
  explicit_bzero(d.key.data(), d.key.size());
  explicit_bzero(d.iv.data(), d.iv.size());
}
}  // namespace

// adoptKtls(fd, txKey, txIv, txSequence, rxKey, rxIv, rxSequence, firstFrameMax) -> id:
// duplicates `fd` (a connected TCP socket node:net owns), installs kernel TLS on the
// duplicate and adopts it as an open connection (no event follows). Throws a system
// error naming the step that failed. Arguments are validated in TypeScript
// (src/channel/ktls-handover.ts).
Napi::Value UringEngineWrap::AdoptKtls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  KtlsDirection tx = DirectionOf(info[1], info[2], info[3]);
  KtlsDirection rx = DirectionOf(info[4], info[5], info[6]);
  try {
    UniqueFd fd = AdoptKtlsSocket(info[0].As<Napi::Number>().Int32Value(), tx, rx);
    Wipe(tx);
    Wipe(rx);
    uint32_t id = engine()->Adopt(std::move(fd), true, info[7].As<Napi::Number>().Uint32Value());
    RefreshRef();
    return Napi::Number::New(env, id);
  } catch (const SysError& e) {
    Wipe(tx);
    Wipe(rx);
    ThrowSysError(env, e);
    return env.Undefined();
  }
}

// ulpOf(connection) -> "tls" on a kTLS connection, "" for none (or a connection that is gone).
Napi::Value UringEngineWrap::UlpOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!engine()) return Napi::String::New(env, "");
  return Napi::String::New(env, engine()->UlpOf(info[0].As<Napi::Number>().Uint32Value()));
}

Napi::Value UringEngineWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  if (!engine()) return out;
  const UringEngineStats& s = engine()->stats();
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
  out.Set("acceptErrors", s.accept_errors);
  out.Set("adoptedKtls", s.adopted_ktls);
  out.Set("active", static_cast<double>(engine()->active()));
  out.Set("setupFlags", static_cast<double>(engine()->setup_flags()));
  return out;
}

}  // namespace crdma
