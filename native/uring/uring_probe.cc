// See uring_probe.h.
#include "uring/uring_probe.h"

#include <cstring>
#include <fstream>
#include <memory>

#include "common/sys_error.h"
#include "region/memory_region.h"
#include "uring/provided_buffers.h"
#include "uring/ring.h"

namespace crdma {

UringProbeResult ProbeUring() {
  UringProbeResult result;
  std::ifstream disabled("/proc/sys/kernel/io_uring_disabled");
  int value = 0;
  if (disabled >> value && value == 2) {
    result.reason = "io_uring is disabled by sysctl kernel.io_uring_disabled=2";
    return result;
  }
  try {
    Ring ring(8);
    auto region = std::make_shared<MemoryRegion>(RegionLayout{4096, 2, 4096});
    ProvidedBuffers buffers(ring, region);
    result.setup_flags = ring.setup_flags();
    result.available = true;
  } catch (const SysError& e) {
    result.reason = std::string(e.op) + " failed: " + strerror(e.err);
    if (e.err == EPERM) result.reason += " (blocked by seccomp or kernel.io_uring_disabled)";
    if (e.err == ENOSYS) result.reason += " (kernel built without io_uring)";
    if (e.err == EINVAL) result.reason += " (kernel too old: needs Linux >= 6.1)";
  }
  return result;
}

}  // namespace crdma
