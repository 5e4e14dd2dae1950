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
  handler_.MakeCallback(receiver, {Napi::Number::New(env, count)}, async_context_);
  if (env.IsExceptionPending()) {
    // Something JS ran in this callback's tick (a throwing listener, a nextTick) threw.
    // Left pending, Node-API would refuse every later call; hand it to Node the way an
    // uncaught exception from any other callback goes (process 'uncaughtException').
    Napi::Error error = env.GetAndClearPendingException();
    napi_fatal_exception(env, error.Value());
  }
  if (end_of_batch_) end_of_batch_();
}

}  // namespace crdma
