// The module entry: per-environment Addon state, the exported classes, and the
// capability probe. Environment teardown (process exit, worker exit) closes every
// resource JS left open, through the registry.
#include "common/addon.h"

#include <sys/resource.h>

#include <cmath>

#include "common/socket_functions_js.h"
#include "rdma/rdma_engine_wrap.h"
#include "rdma/rdma_probe.h"
#include "region/memory_region.h"
#include "region/region_wrap.h"
#include "shm/shm_engine_wrap.h"
#include "shm/shm_mapping.h"
#include "uring/uring_engine_wrap.h"
#include "uring/uring_probe.h"

namespace crdma {

Addon::Addon(Napi::Env env, Napi::Object exports) {
  DefineAddon(exports, {InstanceMethod<&Addon::Capabilities>("capabilities"),
                        InstanceMethod<&Addon::Counters>("counters")});
  exports.Set("Region", RegionWrap::Define(env));
  exports.Set("UringEngine", UringEngineWrap::Define(env));
  exports.Set("RdmaEngine", RdmaEngineWrap::Define(env));
  exports.Set("ShmEngine", ShmEngineWrap::Define(env));
  exports.Set("peerOfFd", Napi::Function::New(env, PeerOfFd, "peerOfFd"));
  exports.Set("listenUnixFd", Napi::Function::New(env, ListenUnixFd, "listenUnixFd"));
}

Addon::~Addon() { registry_->CloseAll(); }

Napi::Value Addon::Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);

  UringProbeResult uring = ProbeUring();
  Napi::Object io_uring = Napi::Object::New(env);
  io_uring.Set("available", uring.available);
  if (!uring.available) io_uring.Set("reason", uring.reason);
  io_uring.Set("setupFlags", static_cast<double>(uring.setup_flags));
  out.Set("ioUring", io_uring);

  std::string shm_reason = shm::ProbeShm();
  Napi::Object shm_out = Napi::Object::New(env);
  shm_out.Set("available", shm_reason.empty());
  if (!shm_reason.empty()) shm_out.Set("reason", shm_reason);
  out.Set("shm", shm_out);

  RdmaProbeResult rdma = ProbeRdma();
  Napi::Object rdma_out = Napi::Object::New(env);
  rdma_out.Set("available", rdma.HasActivePort());
  rdma_out.Set("libraryLoaded", rdma.library_loaded);
  if (!rdma.reason.empty()) rdma_out.Set("reason", rdma.reason);
  Napi::Array devices = Napi::Array::New(env, rdma.devices.size());
  for (size_t i = 0; i < rdma.devices.size(); ++i) {
    const RdmaDevice& device = rdma.devices[i];
    Napi::Object device_out = Napi::Object::New(env);
    device_out.Set("name", device.name);
    if (!device.error.empty()) device_out.Set("error", device.error);
    Napi::Array ports = Napi::Array::New(env, device.ports.size());
    for (size_t j = 0; j < device.ports.size(); ++j) {
      const RdmaPort& port = device.ports[j];
      Napi::Object port_out = Napi::Object::New(env);
      port_out.Set("port", static_cast<double>(port.port));
      port_out.Set("state", port.state);
      port_out.Set("linkLayer", port.link_layer);
      port_out.Set("activeMtu", static_cast<double>(port.active_mtu));
      port_out.Set("gidTableLength", static_cast<double>(port.gid_table_length));
      if (port.gid_count >= 0) port_out.Set("gidCount", static_cast<double>(port.gid_count));
      ports.Set(static_cast<uint32_t>(j), port_out);
    }
    device_out.Set("ports", ports);
    devices.Set(static_cast<uint32_t>(i), device_out);
  }
  rdma_out.Set("devices", devices);
  out.Set("rdma", rdma_out);

  rlimit limit{};
  getrlimit(RLIMIT_MEMLOCK, &limit);
  auto as_number = [&](rlim_t v) -> Napi::Value {
    if (v == RLIM_INFINITY) return Napi::Number::New(env, INFINITY);
    return Napi::Number::New(env, static_cast<double>(v));
  };
  Napi::Object memlock = Napi::Object::New(env);
  memlock.Set("soft", as_number(limit.rlim_cur));
  memlock.Set("hard", as_number(limit.rlim_max));
  out.Set("memlock", memlock);
  return out;
}

// Process-wide counters for leak tests.
Napi::Value Addon::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("liveRegions", static_cast<double>(LiveMemoryRegions()));
  out.Set("liveResources", static_cast<double>(registry_->size()));
  return out;
}

}  // namespace crdma

using crdma::Addon;
NODE_API_ADDON(Addon)
