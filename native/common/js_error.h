// Turns native failures into JS errors shaped like Node core's system errors:
// { message: "op failed: strerror", code: "EXXX", errno: -N, syscall: "op" }.
#pragma once
#include <napi.h>
#include <cstring>
#include <string>

#include "common/sys_error.h"

namespace crdma {

inline Napi::Error MakeSysError(Napi::Env env, int err, const char* op) {
  const char* name = strerrorname_np(err);
  std::string message = std::string(op) + " failed: " + strerror(err) + " (" +
                        (name ? name : "E?") + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, op));
  return error;
}

inline void ThrowSysError(Napi::Env env, const SysError& e) {
  MakeSysError(env, e.err, e.op).ThrowAsJavaScriptException();
}

inline void ThrowCoded(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
}

}  // namespace crdma
