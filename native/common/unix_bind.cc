// See unix_bind.h.
#include "common/unix_bind.h"

#include <sys/stat.h>
#include <sys/un.h>

#include "common/sys_error.h"

namespace crdma {

void BindUnixSocket(int fd, const sockaddr_un& addr, socklen_t len, unsigned mode) {
  CheckSys(fchmod(fd, static_cast<mode_t>(mode & 0777)), "fchmod");
  CheckSys(bind(fd, reinterpret_cast<const sockaddr*>(&addr), len), "bind");
  CheckSys(chmod(addr.sun_path, static_cast<mode_t>(mode & 0777)), "chmod");
}

}  // namespace crdma
