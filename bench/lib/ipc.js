// The child side of the parent/child protocol of the benchmark: messages over Node's IPC
// channel ({ type, ... }), and one way to die: report the error, then exit non-zero.

/** Sends one message to the parent; resolves once it was written. */
export function sendToParent(message) {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error("this script runs as a child of bench/echo.js (no IPC channel)"));
    process.send(message, (error) => (error ? reject(error) : resolve()));
  });
}

/** Runs `main`; on failure tells the parent why and exits 1. Exits when the parent goes. */
export function runChild(main) {
  process.once("disconnect", () => process.exit(0));
  main().catch(async (error) => {
    process.exitCode = 1;
    try {
      await sendToParent({ type: "error", message: error?.stack ?? String(error) });
    } finally {
      process.exit(1);
    }
  });
}
