// The TCP floor of the RDMA benchmark (bench/rdma-guest.js): bench/c/tcp_pingpong.c, a
// C ping-pong of 64 B over TCP on 127.0.0.1 with no Node in it, beside perftest (the
// RDMA floor, lib/perftest.js). Owns compiling it on the host (the guest sees the host
// root read-only and discards its own writes, so the binary must exist before the guest
// boots) and running it in the guest, client and server pinned like our runs.
//   block: blocking recv on both sides, the floor of our event mode (a wakeup per message)
//   spin:  non-blocking recv busy-polled on both sides, the floor of our spin mode
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const SOURCE = join(root, "bench/c/tcp_pingpong.c");

/** Where the host compiles the ping-pong (build/ is git-ignored; node-gyp rebuild clears it). */
export const TCP_PINGPONG_BINARY = join(root, "build/bench/tcp_pingpong");

/** The modes, as row ids of the benchmark. */
export const TCP_FLOOR_ROWS = {
  block: "c-tcp-pingpong-block",
  spin: "c-tcp-pingpong-spin",
};

/**
 * Host side: compiles bench/c/tcp_pingpong.c into build/bench/ unless the binary is newer
 * than the source. Throws with gcc's output when the compile fails.
 */
export function buildTcpPingpong() {
  if (existsSync(TCP_PINGPONG_BINARY) && statSync(TCP_PINGPONG_BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return TCP_PINGPONG_BINARY;
  mkdirSync(dirname(TCP_PINGPONG_BINARY), { recursive: true });
  const args = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-o", TCP_PINGPONG_BINARY, SOURCE];
  try {
    execFileSync("gcc", args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    throw new Error(`gcc ${args.join(" ")} failed:\n${error.stderr ?? error.message}`);
  }
  return TCP_PINGPONG_BINARY;
}

/**
 * Guest side: one run of `iterations` ping-pongs (after `iterations / 10` not recorded)
 * in `mode` ("block" or "spin"). Never throws: a failure is a record with ok: false.
 */
export function runTcpPingpong({ mode, iterations = 5000, pinning }) {
  const record = { driver: TCP_FLOOR_ROWS[mode], mode, payloadBytes: 64, iterations, ok: false };
  if (!existsSync(TCP_PINGPONG_BINARY)) {
    return Promise.resolve(Object.assign(record, { error: `${TCP_PINGPONG_BINARY} missing: the host side compiles it before booting the guest` }));
  }
  const cpus = pinning.pinned ? [pinning.client, pinning.server] : [-1, -1];
  const args = [mode, String(iterations), String(Math.ceil(iterations / 10)), ...cpus.map(String)];
  return new Promise((resolve) => {
    const child = spawn(TCP_PINGPONG_BINARY, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text) => (stderr += text));
    // Blocking round trips in a loaded guest can take milliseconds; 5000 of them, seconds.
    const killTimer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    let settled = false;
    const finish = (fields) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      resolve(Object.assign(record, fields));
    };
    child.on("error", (error) => finish({ error: error.message }));
    // "close", not "exit": stdout may still hold the result line when the process exits.
    child.on("close", (code, signal) => {
      if (code !== 0) return finish({ error: `tcp_pingpong ${mode} exited ${code ?? signal}: ${stderr.trim()}` });
      try {
        const { minUs, p50Us, p99Us, maxUs, rttPerSec } = JSON.parse(stdout.trim().split("\n").at(-1));
        finish({ ok: true, minUs, p50Us, p99Us, maxUs, rttPerSec });
      } catch {
        finish({ error: `tcp_pingpong ${mode}: no result line`, output: stdout + stderr });
      }
    });
  });
}
