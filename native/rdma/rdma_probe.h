// RdmaProbe: finds out at run time whether rdma-core is installed, which RDMA devices
// exist and what state their ports are in, by dlopen()ing libibverbs (never linked: the
// addon must load where rdma-core is absent). Plain C++.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace crdma {

struct RdmaPort {
  uint32_t port = 0;            // 1-based, as verbs numbers them
  std::string state;            // "ACTIVE", "DOWN", "INIT", "ARMED", "ACTIVE_DEFER", "NOP"
  std::string link_layer;       // "Ethernet" (RoCE), "InfiniBand", "unspecified"
  uint32_t active_mtu = 0;      // bytes (256..4096), 0 when unknown
  int32_t gid_table_length = 0; // size of the port's GID table
  int32_t gid_count = -1;       // valid GID entries, -1 when the library cannot tell
};

struct RdmaDevice {
  std::string name;
  std::string error;  // why the device could not be opened or queried, empty when fine
  std::vector<RdmaPort> ports;
};

struct RdmaProbeResult {
  bool library_loaded = false;
  std::string reason;  // why RDMA is unavailable, empty when an ACTIVE port was found
  std::vector<RdmaDevice> devices;
  bool HasActivePort() const;
};

RdmaProbeResult ProbeRdma();

}  // namespace crdma
