// See event_batch.h.
#include "common/event_batch.h"

namespace crdma {

EventBatch::EventBatch(Napi::Env env, Napi::Int32Array events, Napi::Function handler, const char* resource)
    : events_ref_(Napi::Persistent(events)),
      events_(events.Data()),
      capacity_(static_cast<uint32_t>(events.ElementLength() / 4)),
      chunk_(capacity_),
      handler_(Napi::Persistent(handler)),
      async_context_(env, resource) {}

void EventBatch::Push(const Event& event) {
  if (count_ == capacity_) Dispatch(handler_.Env(), Napi::Value(handler_.Env(), receiver_));
  int32_t* slot = events_ + size_t{count_} * 4;
  slot[0] = event.type;
  slot[1] = event.id;
  slot[2] = event.a;
  slot[3] = event.b;
  ++count_;
  // A full chunk goes to JS now (only inside a pump: the receiver is set there).
  if (count_ >= chunk_ && receiver_ != nullptr) {
    Dispatch(handler_.Env(), Napi::Value(handler_.Env(), receiver_));
    if (after_chunk_) after_chunk_();
  }
}

void EventBatch::Dispatch(Napi::Env env, Napi::Value receiver) {
  if (count_ == 0) return;
  uint32_t count = count_;
  count_ = 0;
  if (js_gone_) return;
  // Node-API directly: node-addon-api's MakeCallback turns a failure into a thrown error,
  // and throwing is itself fatal once the environment is terminating.
  napi_value argv[1] = {Napi::Number::New(env, count)};
  napi_value result;
  napi_status status = napi_make_callback(env, async_context_, receiver, handler_.Value(), 1, argv, &result);
  if (status != napi_ok) {
    bool pending = false;
    napi_value error = nullptr;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &error);
    if (!CanRunJs(env)) {
      js_gone_ = true;  // terminating: nothing more goes to JS
    } else if (error) {
      // Something JS ran in this callback's tick (a throwing listener, a nextTick) threw.
      // Left pending, Node-API would refuse every later call; hand it to Node the way an
      // uncaught exception from any other callback goes (process 'uncaughtException').
      napi_fatal_exception(env, error);
    }
  }
  if (end_of_batch_) end_of_batch_();
}

// A Node-API call that checks, like every call into JS, that the environment may still
// run JS (it fails once a worker is terminating or exiting) and has no side effect.
bool EventBatch::CanRunJs(Napi::Env env) {
  napi_value undefined;
  bool equal = false;
  return napi_get_undefined(env, &undefined) == napi_ok &&
         napi_strict_equals(env, undefined, undefined, &equal) == napi_ok;
}

}  // namespace crdma
