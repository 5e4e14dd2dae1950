// See rdma_probe.h. verbs.h is included for its struct layouts only: every function is
// resolved with dlvsym() at the symbol version this file was written against, so the
// addon has no link-time dependency on libibverbs.
#include "rdma/rdma_probe.h"

#include <dlfcn.h>
#include <infiniband/verbs.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

namespace crdma {
namespace {

// The libibverbs entry points the probe needs; one dlopen() handle, closed once.
class VerbsLibrary {
 public:
  using GetDeviceList = ibv_device** (*)(int*);
  using FreeDeviceList = void (*)(ibv_device**);
  using GetDeviceName = const char* (*)(ibv_device*);
  using OpenDevice = ibv_context* (*)(ibv_device*);
  using CloseDevice = int (*)(ibv_context*);
  using QueryDevice = int (*)(ibv_context*, ibv_device_attr*);
  // The exported ibv_query_port@IBVERBS_1.1 takes the short, pre-1.1-extension
  // struct (_compat_ibv_port_attr, a prefix of ibv_port_attr); verbs.h's inline
  // wrapper prefers the provider's query_port op, and so does QueryPort() below.
  using QueryPortCompat = int (*)(ibv_context*, uint8_t, ibv_port_attr*);
  using QueryGidTable = ssize_t (*)(ibv_context*, ibv_gid_entry*, size_t, uint32_t, size_t);

  VerbsLibrary() = default;
  ~VerbsLibrary() {
    if (handle_) dlclose(handle_);
  }
  VerbsLibrary(const VerbsLibrary&) = delete;
  VerbsLibrary& operator=(const VerbsLibrary&) = delete;

  // Empty string on success, else why the library is unusable.
  std::string Load() {
    handle_ = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      return std::string("libibverbs.so.1 could not be loaded (install rdma-core: "
                         "apt-get install libibverbs1 ibverbs-providers): ") + dlerror();
    }
    bool ok = Resolve(get_device_list, "ibv_get_device_list", "IBVERBS_1.1") &&
              Resolve(free_device_list, "ibv_free_device_list", "IBVERBS_1.1") &&
              Resolve(get_device_name, "ibv_get_device_name", "IBVERBS_1.1") &&
              Resolve(open_device, "ibv_open_device", "IBVERBS_1.1") &&
              Resolve(close_device, "ibv_close_device", "IBVERBS_1.1") &&
              Resolve(query_device, "ibv_query_device", "IBVERBS_1.1") &&
              Resolve(query_port_compat, "ibv_query_port", "IBVERBS_1.1");
    if (!ok) return "libibverbs.so.1 lacks the IBVERBS_1.1 device and port queries";
    Resolve(query_gid_table, "_ibv_query_gid_table", "IBVERBS_1.11");  // rdma-core >= 32
    return {};
  }

  // verbs.h's ___ibv_query_port, without the link-time reference.
  int QueryPort(ibv_context* context, uint8_t port, ibv_port_attr* attr) const {
    verbs_context* vctx = verbs_get_ctx_op(context, query_port);
    if (vctx) return vctx->query_port(context, port, attr, sizeof(*attr));
    std::memset(attr, 0, sizeof(*attr));
    return query_port_compat(context, port, attr);
  }

  GetDeviceList get_device_list = nullptr;
  FreeDeviceList free_device_list = nullptr;
  GetDeviceName get_device_name = nullptr;
  OpenDevice open_device = nullptr;
  CloseDevice close_device = nullptr;
  QueryDevice query_device = nullptr;
  QueryPortCompat query_port_compat = nullptr;
  QueryGidTable query_gid_table = nullptr;  // optional

 private:
  template <typename Fn>
  bool Resolve(Fn& fn, const char* name, const char* version) {
    void* sym = dlvsym(handle_, name, version);
    if (!sym) sym = dlsym(handle_, name);
    fn = reinterpret_cast<Fn>(sym);
    return fn != nullptr;
  }

  void* handle_ = nullptr;
};

// An open device context, closed exactly once. Move-only.
class DeviceContext {
 public:
  DeviceContext(const VerbsLibrary& lib, ibv_device* device)
      : lib_(&lib), context_(lib.open_device(device)) {}
  ~DeviceContext() {
    if (context_) lib_->close_device(context_);
  }
  DeviceContext(DeviceContext&& other) noexcept
      : lib_(other.lib_), context_(std::exchange(other.context_, nullptr)) {}
  DeviceContext& operator=(DeviceContext&&) = delete;
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  ibv_context* get() const { return context_; }

 private:
  const VerbsLibrary* lib_;
  ibv_context* context_;
};
static_assert(!std::is_copy_constructible_v<DeviceContext>);

// The device list, freed exactly once.
class DeviceList {
 public:
  explicit DeviceList(const VerbsLibrary& lib) : lib_(&lib), list_(lib.get_device_list(&count_)) {
    if (!list_) count_ = 0;
  }
  ~DeviceList() {
    if (list_) lib_->free_device_list(list_);
  }
  DeviceList(const DeviceList&) = delete;
  DeviceList& operator=(const DeviceList&) = delete;

  int size() const { return count_; }
  ibv_device* operator[](int i) const { return list_[i]; }

 private:
  const VerbsLibrary* lib_;
  int count_ = 0;
  ibv_device** list_;
};

const char* PortStateName(ibv_port_state state) {
  switch (state) {
    case IBV_PORT_NOP: return "NOP";
    case IBV_PORT_DOWN: return "DOWN";
    case IBV_PORT_INIT: return "INIT";
    case IBV_PORT_ARMED: return "ARMED";
    case IBV_PORT_ACTIVE: return "ACTIVE";
    case IBV_PORT_ACTIVE_DEFER: return "ACTIVE_DEFER";
  }
  return "UNKNOWN";
}

const char* LinkLayerName(uint8_t link_layer) {
  switch (link_layer) {
    case IBV_LINK_LAYER_INFINIBAND: return "InfiniBand";
    case IBV_LINK_LAYER_ETHERNET: return "Ethernet";
    default: return "unspecified";
  }
}

uint32_t MtuBytes(ibv_mtu mtu) {
  if (mtu < IBV_MTU_256 || mtu > IBV_MTU_4096) return 0;
  return 128u << mtu;
}

std::string ErrnoText(const char* op, int rc) {
  int err = rc > 0 ? rc : (errno != 0 ? errno : EIO);
  return std::string(op) + " failed: " + std::strerror(err);
}

// Fills port.gid_count for every port from one GID-table query, when the library has it.
void CountGids(const VerbsLibrary& lib, ibv_context* context, RdmaDevice& device) {
  if (!lib.query_gid_table) return;
  size_t capacity = 0;
  for (const RdmaPort& port : device.ports) capacity += static_cast<size_t>(port.gid_table_length);
  if (capacity == 0) return;
  std::vector<ibv_gid_entry> entries(capacity);
  ssize_t n = lib.query_gid_table(context, entries.data(), entries.size(), 0, sizeof(ibv_gid_entry));
  if (n < 0) return;
  for (RdmaPort& port : device.ports) port.gid_count = 0;
  for (ssize_t i = 0; i < n; ++i) {
    for (RdmaPort& port : device.ports) {
      if (port.port == entries[i].port_num) ++port.gid_count;
    }
  }
}

RdmaDevice ProbeDevice(const VerbsLibrary& lib, ibv_device* handle) {
  RdmaDevice device;
  const char* name = lib.get_device_name(handle);
  device.name = name ? name : "";
  errno = 0;
  DeviceContext context(lib, handle);
  if (!context.get()) {
    device.error = ErrnoText("ibv_open_device", 0);
    return device;
  }
  ibv_device_attr attr{};
  if (int rc = lib.query_device(context.get(), &attr); rc != 0) {
    device.error = ErrnoText("ibv_query_device", rc);
    return device;
  }
  for (int p = 1; p <= attr.phys_port_cnt; ++p) {
    ibv_port_attr port_attr{};
    if (int rc = lib.QueryPort(context.get(), static_cast<uint8_t>(p), &port_attr); rc != 0) {
      device.error = ErrnoText("ibv_query_port", rc);
      continue;
    }
    RdmaPort port;
    port.port = static_cast<uint32_t>(p);
    port.state = PortStateName(port_attr.state);
    port.link_layer = LinkLayerName(port_attr.link_layer);
    port.active_mtu = MtuBytes(port_attr.active_mtu);
    port.gid_table_length = port_attr.gid_tbl_len;
    device.ports.push_back(std::move(port));
  }
  CountGids(lib, context.get(), device);
  return device;
}

}  // namespace

bool RdmaProbeResult::HasActivePort() const {
  for (const RdmaDevice& device : devices) {
    for (const RdmaPort& port : device.ports) {
      if (port.state == "ACTIVE") return true;
    }
  }
  return false;
}

RdmaProbeResult ProbeRdma() {
  RdmaProbeResult result;
  VerbsLibrary lib;
  if (std::string why = lib.Load(); !why.empty()) {
    result.reason = why;
    return result;
  }
  result.library_loaded = true;
  {
    DeviceList list(lib);
    for (int i = 0; i < list.size(); ++i) result.devices.push_back(ProbeDevice(lib, list[i]));
  }
  if (result.devices.empty()) {
    result.reason = "no RDMA devices: the kernel has no RDMA support or no device is configured "
                    "(soft-RoCE: modprobe rdma_rxe && rdma link add rxe0 type rxe netdev eth0)";
  } else if (!result.HasActivePort()) {
    result.reason = "no RDMA port is ACTIVE:";
    for (const RdmaDevice& device : result.devices) {
      if (!device.error.empty()) result.reason += " " + device.name + " (" + device.error + ")";
      for (const RdmaPort& port : device.ports) {
        result.reason += " " + device.name + "/" + std::to_string(port.port) + " " + port.state;
      }
    }
  }
  return result;
}

}  // namespace crdma
