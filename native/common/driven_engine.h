// DrivenEngine: what EngineDriver (common/engine_driver.h) needs from an engine — the
// io_uring engine and the RDMA engine both implement it. Plain C++ (no napi.h).
#pragma once
#include <cstddef>

#include "common/events.h"

namespace crdma {

class DrivenEngine {
 public:
  virtual ~DrivenEngine() = default;
  // Submits what JS queued since the last flush (sends, re-arms, recycled buffers).
  virtual int Flush() = 0;
  // Submits the sends JS queued, from inside Reap() (a chunk of the batch went to JS):
  // never destroys a connection nor touches receive state. Engines without it send at Flush().
  virtual void FlushSends() {}
  // Turns available completions into events; returns how many completions it saw.
  virtual int Reap(EventSink& sink) = 0;
  // JS finished the batch: slots its frame views pointed into may be reused.
  virtual void EndBatch() = 0;
  // Called between two empty polls while spinning.
  virtual void SpinStep() = 0;
  virtual bool CompletionsReady() = 0;
  // A pump stopped with completions still queued (its time cap): make the fd the loop
  // waits on readable again, so the loop comes back for them instead of blocking.
  virtual void WakeSoon() {}
  // Hands over what JS described in a shared send table since the last call (engines
  // with send packs; see uring_engine.h). Called before anything that depends on send order.
  virtual void DrainSendRanges() {}
  // Open connections and listeners (they keep the event loop alive).
  virtual size_t active() const = 0;
};

}  // namespace crdma
