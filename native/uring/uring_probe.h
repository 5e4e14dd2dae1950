// UringProbe: can this process use the io_uring features the engine needs? Sets up a
// small ring with the engine's flags and registers a provided-buffer ring. Plain C++.
#pragma once
#include <string>

namespace crdma {

struct UringProbeResult {
  bool available = false;
  std::string reason;  // empty when available
  unsigned setup_flags = 0;
};

UringProbeResult ProbeUring();

}  // namespace crdma
