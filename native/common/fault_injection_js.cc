// See fault_injection_js.h.
#include "common/fault_injection_js.h"

#include <string>

#include "common/fault_injection.h"

namespace crdma {

Napi::Value FaultPointJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  std::string known;
  for (size_t i = 0; i < static_cast<size_t>(FaultPoint::kCount); ++i) {
    FaultPoint point = static_cast<FaultPoint>(i);
    if (name == FaultPointName(point)) {
      if (info.Length() < 2 || info[1].IsUndefined()) return Napi::Number::New(env, static_cast<double>(FaultsFired(point)));
      int64_t fails = info[1].As<Napi::Number>().Int64Value();
      return Napi::Number::New(env, static_cast<double>(ArmFault(point, fails)));
    }
    known += known.empty() ? "" : ", ";
    known += FaultPointName(point);
  }
  Napi::RangeError::New(env, "faultPoint: unknown point '" + name + "' (known: " + known + ")").ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace crdma
