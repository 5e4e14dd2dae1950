// Whether Node's loop has setImmediate callbacks waiting: the spin pump stops spinning
// when it has, so that work JS deferred to the loop's check phase (a stream letting the
// loop turn between large messages, a session's end-of-turn task, a user's setImmediate)
// runs now instead of after the spin window or the pump's cap.
//
// Node keeps one uv_idle handle started exactly while ref'ed immediates are pending (so
// that the loop does not block in poll); libuv lists started idle handles in the loop.
// Nothing else in this addon starts idle handles. Reading the list is a read of libuv's
// loop struct, whose layout is part of libuv's ABI (uv/unix.h).
#pragma once
#include <uv.h>

namespace crdma {

inline bool LoopHasImmediates(const uv_loop_t* loop) {
#if UV_VERSION_HEX >= 0x012d00  // 1.45: the handle queues became struct uv__queue
  return loop->idle_handles.next != &loop->idle_handles;
#else
  return loop->idle_handles[0] != static_cast<const void*>(&loop->idle_handles);
#endif
}

}  // namespace crdma
