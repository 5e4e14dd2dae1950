// The socket file of a Unix listener (unix://, and shm://'s rendezvous socket): what may
// be at its path before we bind, and its permissions.
//   - nothing: bind.
//   - a socket nobody listens on (connect() is refused: ECONNREFUSED), left by a server
//     that was killed: removed, then bind.
//   - a socket someone listens on: EADDRINUSE.
//   - anything else (a regular file, a directory, a symbolic link — never followed): an
//     error naming the path; it is left alone.
// lstat, probe and unlink are not one atomic step: whoever can write the directory can
// swap the path between them, which is why a socket directory must not be writable by
// others (docs/SECURITY.md, "Unix sockets").

import { lstat, unlink } from "node:fs/promises";
import type { Stats } from "node:fs";
import * as net from "node:net";

import { codedError } from "../errors.js";

/** Permissions of a socket file unless the listen options say otherwise: owner only. */
export const DEFAULT_SOCKET_MODE = 0o600;

/** Checks a listen option `socketMode`: permission bits only (0 to 0o777). */
export function socketModeOf(mode: number | undefined): number {
  if (mode === undefined) return DEFAULT_SOCKET_MODE;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new RangeError(`socketMode must be permission bits in [0, 0o777], got ${String(mode)}`);
  }
  return mode;
}

/** Makes `path` free for a new socket file, or throws (code EADDRINUSE, EEXIST, or the probe's). */
export async function claimSocketPath(path: string): Promise<void> {
  let stats: Stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return;
    throw error;
  }
  if (!stats.isSocket()) {
    throw codedError("EEXIST", `${path} is ${kindOf(stats)}, not a socket: it is neither followed nor removed`, { syscall: "lstat" });
  }
  if (await someoneListens(path)) {
    throw codedError("EADDRINUSE", `a server is listening on ${path}`, { syscall: "connect" });
  }
  // Stale: left by a server that did not close (killed). Gone already is fine too.
  await unlink(path).catch((error: { code?: string }) => {
    if (error.code !== "ENOENT") throw error;
  });
}

function kindOf(stats: Stats): string {
  if (stats.isSymbolicLink()) return "a symbolic link";
  if (stats.isDirectory()) return "a directory";
  if (stats.isFile()) return "a regular file";
  return "a special file";
}

/** True when a connect() to the socket file succeeds; false when it is refused (stale); throws otherwise. */
function someoneListens(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", (error: Error & { code?: string }) => {
      probe.destroy();
      if (error.code === "ECONNREFUSED") resolve(false);
      else reject(error);
    });
  });
}
