// SysError: what setup code throws when a system call fails (errno + the call's name).
// Plain C++ (no napi.h): the JS surface turns it into a Node-style error in js_error.h.
#pragma once
#include <cerrno>

namespace crdma {

struct SysError {
  int err;         // positive errno
  const char* op;  // the failing call, e.g. "io_uring_queue_init_params"
};

// Throws SysError{errno, op} when rc < 0 (for calls that return -1 and set errno).
inline int CheckSys(int rc, const char* op) {
  if (rc < 0) throw SysError{errno, op};
  return rc;
}

// Throws SysError{-rc, op} when rc < 0 (for liburing calls that return -errno).
inline int CheckNeg(int rc, const char* op) {
  if (rc < 0) throw SysError{-rc, op};
  return rc;
}

}  // namespace crdma
