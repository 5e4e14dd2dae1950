// See unix_bind.h.
#include "common/unix_bind.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/sys_error.h"

namespace crdma {

void BindUnixSocket(int fd, const sockaddr_un& addr, socklen_t len, unsigned mode) {
  CheckSys(fchmod(fd, static_cast<mode_t>(mode & 0777)), "fchmod");
  CheckSys(bind(fd, reinterpret_cast<const sockaddr*>(&addr), len), "bind");
  struct stat st{};
  CheckSys(stat(addr.sun_path, &st), "stat");
  mode_t want = static_cast<mode_t>(mode & 0777), have = st.st_mode & 0777;
  if (have & ~want) {
    // The kernel ignored the fchmod: the file was open to more than asked. Never serve on it.
    unlink(addr.sun_path);
    throw SysError{EPERM, "bind (the socket file was created with more permissions than its mode)"};
  }
  if (have != want) CheckSys(chmod(addr.sun_path, want), "chmod");  // adds back what the umask removed
}

}  // namespace crdma
