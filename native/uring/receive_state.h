// ReceiveState: what receiving does on one io_uring connection — at most one multishot
// recv is armed, and when none is, why not. The states exclude one another, so they are
// one value; every change of it is one of the transitions below, and the engine
// (uring_data_path.cc) acts on what they return: arm a recv, cancel one, list the
// connection as starved. Plain C++, no engine state: the transitions are pure.
#pragma once
#include <cstdint>

namespace crdma {

enum class ReceiveState : uint8_t {
  kIdle,      // no recv armed and nothing holds one back: armed next (never left so)
  kArmed,     // a multishot recv is active
  kPausing,   // armed, a cancel on its way: a backlog waits for memory (back-pressure)
  kResuming,  // armed, a cancel on its way, the backlog drained since: re-armed once it lands
  kPaused,    // not armed: a backlog waits; ResumeStalled() re-arms once it drained
  kStarved,   // not armed: no provided buffer was free; Flush() re-arms (listed in starved_)
  kEnded,     // the peer's FIN was parsed, after every frame before it: never armed
              // again (final); sending goes on until JS closes (TCP half-close)
};

// A recv may be armed from here (anything else: armed already, held back by a backlog,
// or ended — a new recv would complete with 0 at once).
constexpr bool CanArm(ReceiveState s) { return s == ReceiveState::kIdle || s == ReceiveState::kStarved; }

// A cancel of ours is on its way to the armed recv.
constexpr bool Cancelling(ReceiveState s) { return s == ReceiveState::kPausing || s == ReceiveState::kResuming; }

// Not reading for a reason of ours (no buffer, or a backlog waiting for memory): a peer
// is not to blame for a frame that does not grow meanwhile.
constexpr bool HeldBack(ReceiveState s) {
  return s == ReceiveState::kStarved || s == ReceiveState::kPausing || s == ReceiveState::kPaused;
}

// The multishot recv's last completion (no IORING_CQE_F_MORE): ended, failed or cancelled.
constexpr ReceiveState RecvOver(ReceiveState s) {
  switch (s) {
    case ReceiveState::kArmed:
    case ReceiveState::kResuming: return ReceiveState::kIdle;
    case ReceiveState::kPausing: return ReceiveState::kPaused;
    default: return s;
  }
}

// A backlog began (a frame found no lease). From kArmed the engine cancels the recv, so
// the kernel's socket buffer pushes back instead of our slots; a cancel already on its
// way (kResuming) serves again.
constexpr ReceiveState Pause(ReceiveState s) {
  switch (s) {
    case ReceiveState::kArmed:
    case ReceiveState::kResuming: return ReceiveState::kPausing;
    case ReceiveState::kIdle:
    case ReceiveState::kStarved: return ReceiveState::kPaused;
    default: return s;
  }
}

// The backlog drained, or was dropped (lingering close).
constexpr ReceiveState Unpause(ReceiveState s) {
  switch (s) {
    case ReceiveState::kPausing: return ReceiveState::kResuming;
    case ReceiveState::kPaused: return ReceiveState::kIdle;
    default: return s;
  }
}

// No provided buffer for a recv (ENOBUFS, or none free when arming). A paused connection
// stays paused: ResumeStalled() arms it once its backlog drained, and finds out then.
constexpr ReceiveState Starve(ReceiveState s) { return s == ReceiveState::kIdle ? ReceiveState::kStarved : s; }

static_assert(RecvOver(Pause(ReceiveState::kArmed)) == ReceiveState::kPaused);
static_assert(RecvOver(Unpause(Pause(ReceiveState::kArmed))) == ReceiveState::kIdle);
static_assert(Starve(ReceiveState::kPaused) == ReceiveState::kPaused);
static_assert(!CanArm(Unpause(ReceiveState::kEnded)));

}  // namespace crdma
