// ShmMapping: one connection's shared region — a memfd sealed against shrinking and
// growing (so no peer can cut it under our mapping: no SIGBUS), mapped once. Shared
// (std::shared_ptr) by the connection and the finalizer of its one external ArrayBuffer:
// it is unmapped when the last of them lets go. Plain C++ (no napi.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/unique_fd.h"

namespace crdma::shm {

// Empty when this process can create, seal and map a memfd region; else why not.
std::string ProbeShm();

class ShmMapping {
 public:
  // A fresh memfd of `bytes`, sealed, mapped (the creating side). Throws SysError.
  static std::shared_ptr<ShmMapping> Create(size_t bytes);
  // Maps a memfd received from the peer after checking it is one, is sealed against
  // SHRINK and GROW and has exactly `bytes`. Throws SysError (EPROTO for a bad fd).
  static std::shared_ptr<ShmMapping> Adopt(UniqueFd fd, size_t bytes);
  ~ShmMapping();
  ShmMapping(const ShmMapping&) = delete;
  ShmMapping& operator=(const ShmMapping&) = delete;

  uint8_t* base() const { return base_; }
  size_t size() const { return size_; }
  int fd() const { return fd_.get(); }
  // The fd is only needed until it was passed to the peer.
  void DropFd() { fd_.Reset(); }

 private:
  ShmMapping(UniqueFd fd, size_t bytes);  // maps; throws SysError
  UniqueFd fd_;
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
};

}  // namespace crdma::shm
