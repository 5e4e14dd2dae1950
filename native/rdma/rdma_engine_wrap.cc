// See rdma_engine_wrap.h.
#include "rdma/rdma_engine_wrap.h"

#include <string>

#include "common/js_error.h"
#include "common/socket_address.h"
#include "region/region_wrap.h"

namespace crdma {

Napi::Function RdmaEngineWrap::Define(Napi::Env env) {
  auto methods = CommonMethods();
  methods.push_back(InstanceMethod<&RdmaEngineWrap::Listen>("listen"));
  methods.push_back(InstanceMethod<&RdmaEngineWrap::Connect>("connect"));
  methods.push_back(InstanceMethod<&RdmaEngineWrap::Stats>("stats"));
  methods.push_back(InstanceMethod<&RdmaEngineWrap::ProbeRead>("probeRead"));
  return DefineClass(env, "RdmaEngine", methods);
}

// new RdmaEngine(region, maxFrameBytes, recvDepth, maxUnsentBytes, events: Int32Array, onEvents(count))
// Arguments are validated in TypeScript (src/channel/rdma-engine.ts).
RdmaEngineWrap::RdmaEngineWrap(const Napi::CallbackInfo& info) : Base(info) {
  Napi::Env env = info.Env();
  std::string why;
  const VerbsApi* api = VerbsApi::Load(&why);
  if (!api) {
    ThrowCoded(env, "ERR_RDMA_UNAVAILABLE", why);
    return;
  }
  RegionWrap* region = RegionWrap::Unwrap(info[0].As<Napi::Object>());
  if (!region || !region->region()) {
    ThrowCoded(env, "ERR_REGION_CLOSED", "RdmaEngine needs an open Region");
    return;
  }
  RdmaEngineOptions options;
  options.max_frame_bytes = info[1].As<Napi::Number>().Uint32Value();
  options.recv_depth = info[2].As<Napi::Number>().Uint32Value();
  options.max_unsent_bytes = static_cast<size_t>(info[3].As<Napi::Number>().Int64Value());
  std::vector<int> fds;
  std::unique_ptr<RdmaEngine> created;
  try {
    // Fds found during construction are watched once the driver exists; later ones at once.
    created = std::make_unique<RdmaEngine>(*api, region->region(), options, [this, env, &fds](int fd) {
      if (this->engine()) return WatchFd(env, fd);
      fds.push_back(fd);
      return 0;
    });
  } catch (const SysError& e) {
    Napi::Error error = MakeSysError(env, e.err, e.op);
    error.Set("code", Napi::String::New(env, "ERR_RDMA_UNAVAILABLE"));
    error.Set("message", Napi::String::New(env, std::string("RDMA unavailable: ") + e.op + " failed: " +
                                                    strerror(e.err)));
    error.ThrowAsJavaScriptException();
    return;
  }
  Start(env, std::move(created), info[4].As<Napi::Int32Array>(), info[5].As<Napi::Function>(), "connect-rdma:rdma");
  for (int fd : fds) {
    if (int rc = WatchFd(env, fd); rc != 0) {
      ThrowSysError(env, SysError{-rc, "uv_poll_init (watching an rdma_cm or completion channel)"});
      return;
    }
  }
}

// Tells the engine which fd fired before the driver pumps it (RdmaEngine::FdReadable).
int RdmaEngineWrap::WatchFd(Napi::Env env, int fd) {
  return Watch(env, fd, [this, fd] {
    if (engine()) engine()->FdReadable(fd);
  });
}

// listen(ip, port, backlog) -> [id, boundPort]
Napi::Value RdmaEngineWrap::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  sockaddr_storage addr;
  socklen_t len;
  if (!InetAddress(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().Int32Value(), &addr, &len)) {
    Napi::TypeError::New(env, "listen needs a numeric IP address").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  try {
    uint32_t id = engine()->Listen(&addr, info[2].As<Napi::Number>().Int32Value());
    RefreshRef();
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, Napi::Number::New(env, id));
    out.Set(1u, Napi::Number::New(env, PortOf(addr)));
    return out;
  } catch (const SysError& e) {
    ThrowSysError(env, e);
    return env.Undefined();
  }
}

// connect(ip, port, localIp | "") -> id (a Connected event follows)
Napi::Value RdmaEngineWrap::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!Usable(env)) return env.Undefined();
  sockaddr_storage remote, local;
  socklen_t len;
  if (!InetAddress(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().Int32Value(), &remote, &len)) {
    Napi::TypeError::New(env, "connect needs a numeric IP address").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string local_ip = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  if (!local_ip.empty() && !InetAddress(local_ip, 0, &local, &len)) {
    Napi::TypeError::New(env, "localAddress must be a numeric IP address").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  try {
    uint32_t id = engine()->Connect(remote, local_ip.empty() ? nullptr : &local);
    RefreshRef();
    return Napi::Number::New(env, id);
  } catch (const SysError& e) {
    ThrowSysError(env, e);
    return env.Undefined();
  }
}

Napi::Value RdmaEngineWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  if (!engine()) return out;
  const RdmaEngineStats& s = engine()->stats();
  out.Set("framesIn", s.frames_in);
  out.Set("bytesIn", s.bytes_in);
  out.Set("framesOut", s.frames_out);
  out.Set("bytesOut", s.bytes_out);
  out.Set("reads", s.reads);
  out.Set("readBytes", s.read_bytes);
  out.Set("reassembled", s.reads);
  out.Set("reassembledBytes", s.read_bytes);
  out.Set("inlineSends", s.inline_sends);
  out.Set("creditMessages", s.credit_messages);
  out.Set("creditStalls", s.credit_stalls);
  out.Set("keysGranted", s.keys_granted);
  out.Set("keysRevoked", s.keys_revoked);
  out.Set("readChunksPeak", s.read_chunks_peak);
  out.Set("asyncErrors", s.async_errors);
  out.Set("sendFailures", s.send_failures);
  out.Set("readTargetBytes", s.read_target_bytes);
  out.Set("readTargetBytesPeak", s.read_target_bytes_peak);
  out.Set("overShareReads", s.over_share_reads);
  out.Set("cqEntries", engine()->cq_entries());
  out.Set("lastRevokedRkey", static_cast<double>(engine()->last_revoked_rkey()));
  out.Set("lastReadAddr", static_cast<double>(engine()->last_read_addr()));
  out.Set("lastReadRkey", static_cast<double>(engine()->last_read_rkey()));
  out.Set("active", static_cast<double>(engine()->active()));
  return out;
}

// probeRead(connection, addr, rkey, length) -> 0 or -errno. Reads remote memory with the
// given key; the result shows as the connection's fate (EACCES when the key is refused).
Napi::Value RdmaEngineWrap::ProbeRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!engine()) return Napi::Number::New(env, -EBADF);
  int rc = engine()->ProbeRead(info[0].As<Napi::Number>().Uint32Value(),
                               static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue()),
                               info[2].As<Napi::Number>().Uint32Value(), info[3].As<Napi::Number>().Uint32Value());
  return Napi::Number::New(env, rc);
}

}  // namespace crdma
