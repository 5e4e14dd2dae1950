// libFuzzer target over the RDMA receive order and READ-token bookkeeping
// (native/rdma/inbound_frames.cc), driven the way a hostile peer drives it: READ_REQUESTs
// with tokens of its choice (reused ones included), SENDs queued behind them, and READs
// completing in any order. Owns only the harness.
//
// Input: a list of ops, 2 bytes each: [op][argument]. op % 4: 0 AddRead(token = arg % 8),
// 1 AddSend(slot = arg), 2 CompleteRead(token = arg % 8), 3 deliver the ready front.
// Invariants, against a plain model of the queue: a token is accepted exactly when no
// entry holds it (waiting, being read, or read and undelivered), a READ completes only
// while its entry waits, frames come out in arrival order and only when ready, and a
// token is free again once its frame was delivered.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>

#include "rdma/inbound_frames.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "inbound_frames_fuzz: invariant violated: %s\n", what);
  abort();
}
#define CHECK(cond)           \
  do {                        \
    if (!(cond)) Fail(#cond); \
  } while (0)

struct Model {
  bool is_read;
  uint32_t id;
  bool ready;
  size_t offset;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  crdma::InboundFrames frames;
  std::deque<Model> model;
  size_t next_offset = 1;
  for (size_t i = 0; i + 1 < size; i += 2) {
    uint8_t op = data[i] % 4;
    uint8_t arg = data[i + 1];
    switch (op) {
      case 0: {
        uint32_t token = arg % 8;
        bool in_use = false;
        for (const Model& m : model) in_use |= m.is_read && m.id == token;
        CHECK(frames.TokenInUse(token) == in_use);
        CHECK(frames.AddRead(token) == !in_use);
        if (!in_use) model.push_back(Model{true, token, false, 0});
        break;
      }
      case 1:
        frames.AddSend(arg, next_offset, arg);
        model.push_back(Model{false, arg, true, next_offset++});
        break;
      case 2: {
        uint32_t token = arg % 8;
        Model* waiting = nullptr;
        for (Model& m : model) {
          if (m.is_read && m.id == token && !m.ready) waiting = &m;
        }
        CHECK(frames.CompleteRead(token, next_offset, token) == (waiting != nullptr));
        if (waiting) {
          waiting->ready = true;
          waiting->offset = next_offset++;
        }
        break;
      }
      case 3: {
        const crdma::InboundFrames::Entry* front = frames.ReadyFront();
        bool ready = !model.empty() && model.front().ready;
        CHECK((front != nullptr) == ready);
        if (!front) break;
        CHECK(front->is_read == model.front().is_read);
        CHECK(front->slot_or_token == model.front().id);
        CHECK(front->offset == model.front().offset);
        frames.PopFront();
        model.pop_front();
        break;
      }
    }
    CHECK(frames.size() == model.size());
    CHECK(frames.empty() == model.empty());
  }
  return 0;
}
