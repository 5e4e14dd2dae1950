// The addon's one door to the test-only fault points (fault_injection.h), for tests only:
//   faultPoint(name)         -> how often the point fired since it was last armed
//   faultPoint(name, fails)  -> the same, then arms it: the next `fails` passes fail
//                               (0 disarms)
// An unknown name throws a RangeError listing the known ones.
#pragma once
#include <napi.h>

namespace crdma {

Napi::Value FaultPointJs(const Napi::CallbackInfo& info);

}  // namespace crdma
