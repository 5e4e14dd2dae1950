// BindUnixSocket: binds a Unix socket so that its file never has more permissions than
// the caller asked for, not even for an instant. Linux creates the socket file with the
// socket inode's mode minus the umask, so fchmod() on the fd BEFORE bind() restricts the
// file from its creation (no window in which another user could connect); a chmod() of
// the path after bind() then only adds back bits the umask removed; a file found with
// more bits than asked (a kernel ignoring the fchmod) is removed and an error thrown.
// Plain C++ (no napi.h).
#pragma once
#include <sys/socket.h>
#include <sys/un.h>

namespace crdma {

// Throws SysError ("fchmod", "bind", "stat", "chmod"; EPERM for a file wider than `mode`) on failure.
void BindUnixSocket(int fd, const sockaddr_un& addr, socklen_t len, unsigned mode);

}  // namespace crdma
