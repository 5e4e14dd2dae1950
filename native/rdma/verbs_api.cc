// See verbs_api.h.
#include "rdma/verbs_api.h"

#include <dlfcn.h>

#include <mutex>

namespace crdma {
namespace {

template <typename Fn>
bool Resolve(void* lib, const char* name, Fn* out, std::string* missing) {
  *out = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!*out) *missing = name;
  return *out != nullptr;
}

struct Loaded {
  VerbsApi api{};
  std::string error;
  bool ok = false;
};

Loaded LoadOnce() {
  Loaded l;
  void* verbs = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (!verbs) {
    l.error = std::string("RDMA unavailable: libibverbs.so.1 not found (apt-get install libibverbs1 "
                          "ibverbs-providers): ") + dlerror();
    return l;
  }
  void* cm = dlopen("librdmacm.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (!cm) {
    l.error = std::string("RDMA unavailable: librdmacm.so.1 not found (apt-get install librdmacm1): ") +
              dlerror();
    return l;
  }
  std::string missing;
  VerbsApi& a = l.api;
  bool ok = Resolve(verbs, "ibv_alloc_pd", &a.alloc_pd, &missing) &&
            Resolve(verbs, "ibv_dealloc_pd", &a.dealloc_pd, &missing) &&
            Resolve(verbs, "ibv_reg_mr", &a.reg_mr, &missing) &&
            Resolve(verbs, "ibv_dereg_mr", &a.dereg_mr, &missing) &&
            Resolve(verbs, "ibv_create_comp_channel", &a.create_comp_channel, &missing) &&
            Resolve(verbs, "ibv_destroy_comp_channel", &a.destroy_comp_channel, &missing) &&
            Resolve(verbs, "ibv_create_cq", &a.create_cq, &missing) &&
            Resolve(verbs, "ibv_destroy_cq", &a.destroy_cq, &missing) &&
            Resolve(verbs, "ibv_get_cq_event", &a.get_cq_event, &missing) &&
            Resolve(verbs, "ibv_ack_cq_events", &a.ack_cq_events, &missing) &&
            Resolve(verbs, "ibv_query_device", &a.query_device, &missing) &&
            Resolve(verbs, "ibv_resize_cq", &a.resize_cq, &missing) &&
            Resolve(verbs, "ibv_get_async_event", &a.get_async_event, &missing) &&
            Resolve(verbs, "ibv_ack_async_event", &a.ack_async_event, &missing) &&
            Resolve(cm, "rdma_create_event_channel", &a.create_event_channel, &missing) &&
            Resolve(cm, "rdma_destroy_event_channel", &a.destroy_event_channel, &missing) &&
            Resolve(cm, "rdma_create_id", &a.create_id, &missing) &&
            Resolve(cm, "rdma_destroy_id", &a.destroy_id, &missing) &&
            Resolve(cm, "rdma_bind_addr", &a.bind_addr, &missing) &&
            Resolve(cm, "rdma_listen", &a.listen, &missing) &&
            Resolve(cm, "rdma_resolve_addr", &a.resolve_addr, &missing) &&
            Resolve(cm, "rdma_resolve_route", &a.resolve_route, &missing) &&
            Resolve(cm, "rdma_create_qp", &a.create_qp, &missing) &&
            Resolve(cm, "rdma_destroy_qp", &a.destroy_qp, &missing) &&
            Resolve(cm, "rdma_connect", &a.connect, &missing) &&
            Resolve(cm, "rdma_accept", &a.accept, &missing) &&
            Resolve(cm, "rdma_reject", &a.reject, &missing) &&
            Resolve(cm, "rdma_disconnect", &a.disconnect, &missing) &&
            Resolve(cm, "rdma_get_cm_event", &a.get_cm_event, &missing) &&
            Resolve(cm, "rdma_ack_cm_event", &a.ack_cm_event, &missing) &&
            Resolve(cm, "rdma_get_src_port", &a.get_src_port, &missing);
  if (!ok) {
    l.error = "RDMA unavailable: rdma-core lacks " + missing;
    return l;
  }
  l.ok = true;
  return l;
}

}  // namespace

const VerbsApi* VerbsApi::Load(std::string* why) {
  static const Loaded loaded = LoadOnce();  // thread-safe once; the libraries stay loaded
  if (!loaded.ok) {
    if (why) *why = loaded.error;
    return nullptr;
  }
  return &loaded.api;
}

}  // namespace crdma
