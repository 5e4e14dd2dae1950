// RdmaProbe: finds out at run time whether rdma-core is installed and which RDMA
// devices exist, by dlopen()ing libibverbs (never linked: the addon must load where
// rdma-core is absent). Plain C++.
#pragma once
#include <string>
#include <vector>

namespace crdma {

struct RdmaDevice {
  std::string name;
};

struct RdmaProbeResult {
  bool library_loaded = false;
  std::string reason;  // why RDMA is unavailable, empty when devices were found
  std::vector<RdmaDevice> devices;
};

RdmaProbeResult ProbeRdma();

}  // namespace crdma
