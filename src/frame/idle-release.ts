// Lets go of the event loop for sessions whose last stream ended: one timer checks every
// session that asked within the last RELEASE_CHECK_MS, however often each asked. With one
// call in flight a connection goes idle and busy again on every call; a check per call
// (a setImmediate) cost each call a loop turn of its own, and in spin mode ended the spin.

/** A session that may release the loop if it is still idle when checked. */
export interface IdleRelease {
  releaseIfIdle(): void;
}

/** The longest a session that went idle keeps the process alive before the check. */
export const RELEASE_CHECK_MS = 1;

// Two sets swapped at each check: a session that asks again while checked lands in the
// other one and waits for the next timer.
let pending = new Set<IdleRelease>();
let due = new Set<IdleRelease>();
let timer: ReturnType<typeof setTimeout> | undefined;

function checkPending(): void {
  timer = undefined;
  [due, pending] = [pending, due];
  for (const session of due) session.releaseIfIdle();
  due.clear();
}

/** Checks `session.releaseIfIdle()` within RELEASE_CHECK_MS, once however often it is asked. */
export function releaseWhenIdle(session: IdleRelease): void {
  pending.add(session);
  // Unref'ed: the timer itself never keeps the process alive, the connection's ref does.
  timer ??= setTimeout(checkPending, RELEASE_CHECK_MS).unref();
}
