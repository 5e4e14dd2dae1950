// Whether this machine has an IPv6 loopback (::1) to listen on, for the suites that use
// tcp://[::1] URLs: they are gated on it (skipped with the reason printed, a failure under CI=true).

import { createServer } from "node:net";

/** Why ::1 cannot be listened on here, or undefined. */
export function loopback6Unavailable(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", (e: NodeJS.ErrnoException) => resolve(`no IPv6 loopback: listen on ::1 failed (${e.code})`));
    probe.listen(0, "::1", () => probe.close(() => resolve(undefined)));
  });
}
