// Work deferred to the end of the event loop's turn, once per turn whatever the number of
// requests: a session whose last stream ended lets go of the event loop only if it is
// still idle then. A busy connection goes idle and busy again many times per turn (every
// call of a burst); telling the engine each time costs a native call per call.

/** Something to run once at the end of the current loop turn. */
export interface TurnEndTask {
  runAtTurnEnd(): void;
}

const pending = new Set<TurnEndTask>();
let scheduled = false;

function runPending(): void {
  scheduled = false;
  for (const task of pending) {
    pending.delete(task);
    task.runAtTurnEnd();
  }
}

/** Runs `task.runAtTurnEnd()` at the end of this loop turn (setImmediate), once however often it is asked. */
export function atTurnEnd(task: TurnEndTask): void {
  pending.add(task);
  if (!scheduled) {
    scheduled = true;
    setImmediate(runPending);
  }
}
