// See shm_mapping.h.
#include "shm/shm_mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/sys_error.h"

namespace crdma::shm {

std::shared_ptr<ShmMapping> ShmMapping::Create(size_t bytes) {
  UniqueFd fd(CheckSys(memfd_create("connect-rdma-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING), "memfd_create"));
  CheckSys(ftruncate(fd.get(), static_cast<off_t>(bytes)), "ftruncate");
  CheckSys(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), "fcntl(F_ADD_SEALS)");
  return std::shared_ptr<ShmMapping>(new ShmMapping(std::move(fd), bytes));
}

std::shared_ptr<ShmMapping> ShmMapping::Adopt(UniqueFd fd, size_t bytes) {
  char link[64];
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd.get());
  ssize_t n = readlink(path, link, sizeof link - 1);
  if (n < 0) throw SysError{errno, "readlink(memfd)"};
  link[n] = 0;
  if (strncmp(link, "/memfd:", 7) != 0) throw SysError{EPROTO, "shm region is not a memfd"};
  int seals = CheckSys(fcntl(fd.get(), F_GET_SEALS), "fcntl(F_GET_SEALS)");
  if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
    throw SysError{EPROTO, "shm region is not sealed against shrink and grow"};
  }
  struct stat st;
  CheckSys(fstat(fd.get(), &st), "fstat(memfd)");
  if (static_cast<size_t>(st.st_size) != bytes) throw SysError{EPROTO, "shm region has the wrong size"};
  return std::shared_ptr<ShmMapping>(new ShmMapping(std::move(fd), bytes));
}

std::string ProbeShm() {
  try {
    auto probe = ShmMapping::Create(4096);
    return probe->base() ? "" : "mmap failed";
  } catch (const SysError& e) {
    return std::string(e.op) + ": " + strerror(e.err);
  }
}

ShmMapping::ShmMapping(UniqueFd fd, size_t bytes) : fd_(std::move(fd)), size_(bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (p == MAP_FAILED) throw SysError{errno, "mmap(memfd)"};
  base_ = static_cast<uint8_t*>(p);
}

ShmMapping::~ShmMapping() {
  if (base_) munmap(base_, size_);
}

}  // namespace crdma::shm
