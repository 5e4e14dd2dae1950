// The error of a listen() that failed: the engines word bind failures each their own way
// (node:net "listen EADDRINUSE: address already in use 127.0.0.1:7000", io_uring "bind
// failed: ..."); the server rewords them to name the URL it was asked to bind, keeping
// `code`, `errno` and `syscall`. For a unix:// or shm:// path (src/channel/unix-socket-file.ts):
// a stale socket file was replaced already, so EADDRINUSE means a live server, and
// EEXIST names what is at the path instead of a socket.
import { codedError } from "../errors.js";
import type { CodedError } from "../errors.js";

/** strerror() of the codes a bind commonly fails with. */
const REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: "Address already in use",
  EADDRNOTAVAIL: "Cannot assign requested address",
  EACCES: "Permission denied",
  ENOENT: "No such file or directory",
  ENAMETOOLONG: "File name too long",
  EEXIST: "File exists",
};

/** `error` reworded as `bind <url> failed: <reason>`; errors without a system code pass through. */
export function bindError(url: string, error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !/^E[A-Z]+$/.test(code)) return error;
  const { errno, syscall } = error as CodedError;
  let message = `bind ${url} failed: ${REASONS[code] ?? code} (${code})`;
  if (/^(unix|shm):/.test(url)) {
    if (code === "EADDRINUSE") message += ": a server is listening on this socket file; stop it or pass another path";
    else if (code === "EEXIST") message += `: ${(error as Error).message}; remove it or pass another path`;
  }
  const reworded = codedError(code, message, { errno, syscall: syscall ?? "bind" });
  reworded.cause = error;
  return reworded;
}
