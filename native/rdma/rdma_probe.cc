// See rdma_probe.h.
#include "rdma/rdma_probe.h"

#include <dlfcn.h>

namespace crdma {

RdmaProbeResult ProbeRdma() {
  RdmaProbeResult result;
  void* lib = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    result.reason = std::string("libibverbs.so.1 could not be loaded (install rdma-core: "
                                "apt-get install libibverbs1 ibverbs-providers): ") + dlerror();
    return result;
  }
  result.library_loaded = true;
  using GetList = void** (*)(int*);
  using FreeList = void (*)(void**);
  using GetName = const char* (*)(void*);
  auto get_list = reinterpret_cast<GetList>(dlsym(lib, "ibv_get_device_list"));
  auto free_list = reinterpret_cast<FreeList>(dlsym(lib, "ibv_free_device_list"));
  auto get_name = reinterpret_cast<GetName>(dlsym(lib, "ibv_get_device_name"));
  if (!get_list || !free_list || !get_name) {
    result.reason = "libibverbs lacks ibv_get_device_list";
    dlclose(lib);
    return result;
  }
  int n = 0;
  void** list = get_list(&n);
  if (list) {
    for (int i = 0; i < n; ++i) result.devices.push_back(RdmaDevice{get_name(list[i])});
    free_list(list);
  }
  if (result.devices.empty()) {
    result.reason = "no RDMA devices: the kernel has no RDMA support or no device is configured "
                    "(soft-RoCE: modprobe rdma_rxe && rdma link add rxe0 type rxe netdev eth0)";
  }
  dlclose(lib);
  return result;
}

}  // namespace crdma
