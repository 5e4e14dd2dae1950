// See ktls_socket.h.
#include "uring/ktls_socket.h"

#include <fcntl.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/sys_error.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

namespace crdma {
namespace {

// Fills the kernel's crypto_info of one direction (its layout differs by key size only in
// the key field) and sets it as `optname` (TLS_TX or TLS_RX).
template <typename Info>
void SetDirection(int fd, int optname, uint16_t cipher, const KtlsDirection& d, const char* op) {
  Info info{};
  info.info.version = TLS_1_3_VERSION;
  info.info.cipher_type = cipher;
  static_assert(sizeof info.salt + sizeof info.iv == 12, "a TLS 1.3 AES-GCM IV has 12 bytes");
  if (d.key.size() != sizeof info.key || d.iv.size() != 12) throw SysError{EINVAL, op};
  std::memcpy(info.key, d.key.data(), sizeof info.key);
  // The kernel's nonce is salt || iv, XORed with the sequence number as RFC 8446 §5.3 says.
  std::memcpy(info.salt, d.iv.data(), sizeof info.salt);
  std::memcpy(info.iv, d.iv.data() + sizeof info.salt, sizeof info.iv);
  for (size_t i = 0; i < sizeof info.rec_seq; ++i) {
    info.rec_seq[i] = static_cast<unsigned char>(d.sequence >> (8 * (sizeof info.rec_seq - 1 - i)));
  }
  int rc = setsockopt(fd, SOL_TLS, optname, &info, sizeof info);
  int err = errno;
  explicit_bzero(&info, sizeof info);
  if (rc < 0) throw SysError{err, op};
}

void SetKeys(int fd, int optname, const KtlsDirection& d, const char* op) {
  if (d.key.size() == 16) {
    SetDirection<tls12_crypto_info_aes_gcm_128>(fd, optname, TLS_CIPHER_AES_GCM_128, d, op);
  } else if (d.key.size() == 32) {
    SetDirection<tls12_crypto_info_aes_gcm_256>(fd, optname, TLS_CIPHER_AES_GCM_256, d, op);
  } else {
    throw SysError{EINVAL, op};
  }
}

}  // namespace

UniqueFd AdoptKtlsSocket(int fd, const KtlsDirection& tx, const KtlsDirection& rx) {
  UniqueFd own(CheckSys(fcntl(fd, F_DUPFD_CLOEXEC, 0), "fcntl(F_DUPFD_CLOEXEC) of the TLS socket"));
  int flags = CheckSys(fcntl(own.get(), F_GETFL), "fcntl(F_GETFL)");
  CheckSys(fcntl(own.get(), F_SETFL, flags | O_NONBLOCK), "fcntl(F_SETFL, O_NONBLOCK)");
  static const char kUlp[] = "tls";
  CheckSys(setsockopt(own.get(), SOL_TCP, TCP_ULP, kUlp, sizeof kUlp - 1), "setsockopt(TCP_ULP, \"tls\")");
  SetKeys(own.get(), TLS_TX, tx, "setsockopt(SOL_TLS, TLS_TX)");
  SetKeys(own.get(), TLS_RX, rx, "setsockopt(SOL_TLS, TLS_RX)");
  return own;
}

std::string UlpOf(int fd) {
  char name[32] = {};
  socklen_t len = sizeof name;
  if (getsockopt(fd, SOL_TCP, TCP_ULP, name, &len) < 0) return "";
  return std::string(name, strnlen(name, len));
}

}  // namespace crdma
