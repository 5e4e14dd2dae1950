// EngineDriver: runs an engine on Node's loop — the part the io_uring and RDMA wraps
// share. One Pump() = reap completions into events, hand the batch to JS once, flush
// what JS queued, repeat until idle. In spin mode it keeps polling for `spin_ns` after
// the last activity, unless JS left setImmediate work for the loop (it runs first). One
// Pump never runs longer than kSpinCapNs, so timers still run.
// A large batch goes to JS in chunks, the sends of each submitted before the next, so
// the peer works on the first answers while this side handles the rest.
// A uv_prepare step flushes the sends queued in each loop turn before the loop blocks.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "common/driven_engine.h"
#include "common/event_batch.h"
#include "common/events.h"
#include "common/uv_handles.h"

namespace crdma {

class EngineDriver {
 public:
  static constexpr uint64_t kSpinCapNs = 2'000'000;

  // `receiver_of` returns the wrap's JS object (called inside a HandleScope).
  EngineDriver(Napi::Env env, Napi::Int32Array events, Napi::Function handler, const char* name,
               DrivenEngine* engine, std::function<Napi::Value()> receiver_of);
  EngineDriver(const EngineDriver&) = delete;
  EngineDriver& operator=(const EngineDriver&) = delete;

  void SetSpin(bool spin, uint64_t spin_ns) {
    spin_ = spin;
    spin_ns_ = spin_ns;
  }
  // At most `events` events per JS callback while reaping; the sends JS queued are
  // submitted after each (0: one callback per batch, up to the events array's size).
  void SetChunk(uint32_t events) { batch_.set_chunk(events); }
  // Called when an fd the engine waits on became readable.
  void OnReadable() { Pump(spin_); }
  bool pumping() const { return pumping_; }
  // Set by the owner when JS closed the engine during a batch: Pump stops after it.
  void RequestStop() { stop_ = true; }
  // Runs after each step that may have changed what is open: a Pump(), or the prepare
  // step's Flush() (it destroys connections closed outside a pump). The owner refreshes
  // its refs there, or completes a deferred close.
  void set_after_step(std::function<void()> fn) { after_step_ = std::move(fn); }
  // JS can no longer run (environment teardown): the driver stopped; the owner closes.
  bool js_gone() const { return batch_.js_gone(); }

 private:
  void Pump(bool spin);
  void OnPrepare();

  Napi::Env env_;
  uv_loop_t* loop_ = nullptr;
  DrivenEngine* engine_;
  std::function<Napi::Value()> receiver_of_;
  std::function<void()> after_step_;
  EventBatch batch_;
  std::unique_ptr<UvPrepare> prepare_;
  bool spin_ = false;
  uint64_t spin_ns_ = 50'000;
  bool pumping_ = false;
  bool stop_ = false;
};

}  // namespace crdma
