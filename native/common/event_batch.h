// EventBatch: the JS end of an engine's EventSink. Events go into a JS-owned Int32Array;
// Dispatch() calls the JS handler once with the count (MakeCallback, so promise
// continuations run before it returns), then runs the engine's end-of-batch step.
// When JS can no longer run (the environment is being torn down: worker.terminate(),
// process.exit() in a worker, even from inside the handler) the batch is dropped quietly
// and js_gone() turns true; the owner stops the engine.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>

#include "common/events.h"

namespace crdma {

class EventBatch : public EventSink {
 public:
  // `events` must stay the same array for the engine's life (kept referenced here).
  EventBatch(Napi::Env env, Napi::Int32Array events, Napi::Function handler, const char* resource);
  EventBatch(const EventBatch&) = delete;
  EventBatch& operator=(const EventBatch&) = delete;

  // Called after every batch handed to JS (the engine unpins the batch's slots).
  void set_end_of_batch(std::function<void()> fn) { end_of_batch_ = std::move(fn); }
  // Mid-batch dispatch: once `events` events are pending during a reap, they go to JS
  // at once and `fn` runs after (the driver submits the sends JS queued), so a large
  // batch is answered piece by piece while the rest is still being handed over — the
  // peer starts on the first answers instead of waiting for the whole batch.
  void set_chunk(uint32_t events) { chunk_ = events == 0 || events > capacity_ ? capacity_ : events; }
  void set_after_chunk(std::function<void()> fn) { after_chunk_ = std::move(fn); }
  // The JS object the handler is called on (the engine wrap).
  void set_receiver(napi_value receiver) { receiver_ = receiver; }

  void Push(const Event& event) override;
  // Hands the pending events (if any) to JS. Needs an open HandleScope.
  void Dispatch(Napi::Env env, Napi::Value receiver);
  bool js_gone() const { return js_gone_; }

 private:
  static bool CanRunJs(Napi::Env env);

  Napi::Reference<Napi::Int32Array> events_ref_;
  int32_t* events_;
  uint32_t capacity_;
  uint32_t chunk_;
  uint32_t count_ = 0;
  Napi::FunctionReference handler_;
  Napi::AsyncContext async_context_;
  std::function<void()> end_of_batch_;
  std::function<void()> after_chunk_;
  napi_value receiver_ = nullptr;  // valid only while a Pump() holds a HandleScope
  bool js_gone_ = false;
};

}  // namespace crdma
