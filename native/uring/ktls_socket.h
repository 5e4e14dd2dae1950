// Kernel TLS on a connected TCP socket (docs/SECURITY.md, "kTLS on io_uring"): the record
// keys of both directions as the TLS 1.3 handshake (done in node:tls) left them, and the
// switch of a socket to the kernel's "tls" upper-layer protocol with them. After it the
// socket carries plaintext for us and TLS records on the wire: sends are sealed into
// records by the kernel, receives are records it opened. Plain C++ (no napi.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace crdma {

// One direction of a TLS 1.3 AES-GCM connection: its traffic key (16 bytes: AES-128-GCM,
// 32: AES-256-GCM), its 12-byte IV, and how many records were already protected with the
// key (the next record's sequence number).
struct KtlsDirection {
  std::vector<uint8_t> key;
  std::vector<uint8_t> iv;
  uint64_t sequence = 0;
};

// Duplicates `fd` (a connected TCP socket someone else owns and will close) and installs
// kernel TLS on the duplicate: TCP_ULP "tls", then TLS_TX with `tx` and TLS_RX with `rx`.
// Throws SysError naming the step that failed (ENOENT from TCP_ULP: no tls module).
// Key material is wiped from the stack copies before returning.
UniqueFd AdoptKtlsSocket(int fd, const KtlsDirection& tx, const KtlsDirection& rx);

// The upper-layer protocol installed on `fd` (getsockopt TCP_ULP): "tls", or "" for none.
std::string UlpOf(int fd);

}  // namespace crdma
