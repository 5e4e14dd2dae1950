// The floor of the shm:// benchmark: bench/c/shm_ring_pingpong.c, the same ring layout and
// wake protocol as native/shm/ in C with no Node in it. Owns compiling it (cc, into
// build/bench/) and running it (ping-pong, or a one-way stream); returns its JSON line.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const SOURCE = join(root, "bench/c/shm_ring_pingpong.c");
const BINARY = join(root, "build/bench/shm_ring_pingpong");

/** Compiles the ping-pong unless the binary is newer than its source; throws with cc's output. */
export function buildShmPingpong() {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY;
  mkdirSync(dirname(BINARY), { recursive: true });
  const args = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-o", BINARY, SOURCE];
  try {
    execFileSync("cc", args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    throw new Error(`cc ${args.join(" ")} failed:\n${error.stderr ?? error.message}`);
  }
  return BINARY;
}

/**
 * One run: "spin" or "event", `iterations` round trips of `payload` bytes (a tenth more
 * unrecorded first). Client and server unpinned unless `cpus` names two ("0,1").
 */
export function runShmPingpong(mode, iterations, payload = 64) {
  const out = execFileSync(buildShmPingpong(), [mode, String(iterations), String(payload)], { timeout: 120_000 });
  return JSON.parse(out.toString());
}

/**
 * The one-way stream of the same program: `iterations` messages of `payload` bytes, each
 * copied into the ring by the server and taken in place by the client (msgPerSec, bytesPerSec).
 */
export function runShmStream(mode, iterations, payload) {
  const out = execFileSync(buildShmPingpong(), [mode, String(iterations), String(payload), "stream"], { timeout: 120_000 });
  return JSON.parse(out.toString());
}
