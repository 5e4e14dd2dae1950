// Socket addresses from what JS passes (numeric IP + port, or a Unix path). Plain C++.
#pragma once
#include <sys/socket.h>

#include <string>

namespace crdma {

// Fills *out from a numeric IPv4/IPv6 string and a port; false when `ip` is not one.
bool InetAddress(const std::string& ip, int port, sockaddr_storage* out, socklen_t* len);
// Fills *out with a Unix socket path; false when empty or too long.
bool UnixAddress(const std::string& path, sockaddr_storage* out, socklen_t* len);
// The port of an AF_INET/AF_INET6 address (host order), 0 otherwise.
int PortOf(const sockaddr_storage& addr);

}  // namespace crdma
