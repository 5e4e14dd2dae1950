// See engine_driver.h.
#include "common/engine_driver.h"

#include <time.h>

#include "common/loop_immediates.h"

namespace crdma {
namespace {
uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}
}  // namespace

EngineDriver::EngineDriver(Napi::Env env, Napi::Int32Array events, Napi::Function handler, const char* name,
                           DrivenEngine* engine, std::function<Napi::Value()> receiver_of)
    : env_(env), engine_(engine), receiver_of_(std::move(receiver_of)), batch_(env, events, handler, name) {
  napi_get_uv_event_loop(env, &loop_);
  batch_.set_end_of_batch([this] { engine_->EndBatch(); });
  batch_.set_after_chunk([this] { engine_->FlushSends(); });
  prepare_ = std::make_unique<UvPrepare>(env, [this] { OnPrepare(); });
}

void EngineDriver::OnPrepare() {
  if (stop_ || pumping_) return;
  if (spin_) {
    Pump(true);
    return;
  }
  engine_->Flush();
  // Completions that became ready while JS ran (task work run by our own submit).
  if (engine_->CompletionsReady()) Pump(false);
  else if (after_step_) after_step_();
}

void EngineDriver::Pump(bool spin) {
  if (pumping_ || stop_) return;
  pumping_ = true;
  engine_->Flush();
  uint64_t start = NowNs();
  uint64_t idle_until = start + spin_ns_;
  for (;;) {
    int seen;
    {
      // One scope per batch: handles made while dispatching die with the batch, so a
      // long pump (spin mode, a busy connection) never piles them up.
      Napi::HandleScope scope(env_);
      Napi::Value receiver = receiver_of_();
      batch_.set_receiver(receiver);
      seen = engine_->Reap(batch_);
      batch_.Dispatch(env_, receiver);
      batch_.set_receiver(nullptr);
    }
    if (batch_.js_gone()) stop_ = true;
    if (stop_) break;
    engine_->Flush();
    uint64_t now = NowNs();
    if (now - start >= kSpinCapNs) break;  // let timers and other I/O run; prepare resumes us
    if (spin) {
      if (seen > 0) idle_until = now + spin_ns_;
      if (now < idle_until && engine_->active() > 0 && !LoopHasImmediates(loop_)) {
        engine_->SpinStep();
        continue;
      }
    } else if (seen > 0) {
      continue;
    }
    break;
  }
  pumping_ = false;
  if (!stop_ && engine_->CompletionsReady()) engine_->WakeSoon();
  if (after_step_) after_step_();
}

}  // namespace crdma
