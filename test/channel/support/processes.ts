// Child processes for tests: fixture scripts under test/fixtures/ (plain ESM that
// imports the compiled package from dist/), read line by line as JSON, killed when the
// test is done. Also checks that dist/ exists and is not older than the sources the
// fixtures import, so a fixture never silently runs stale code.

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

export const root = fileURLToPath(new URL("../../../", import.meta.url));
export const fixtures = fileURLToPath(new URL("../../fixtures/", import.meta.url));

/**
 * Throws a clear message when a compiled file is missing from dist/ or older than its
 * source. `modules` are paths under src/ without extension: a file ("region") or a
 * directory ("channel", every .ts file in it).
 */
export function requireDist(modules: string[]): void {
  for (const module of modules) {
    const dir = statSync(`${root}src/${module}`, { throwIfNoEntry: false });
    const files = dir?.isDirectory()
      ? readdirSync(`${root}src/${module}`).filter((f) => f.endsWith(".ts")).map((f) => `${module}/${f.slice(0, -3)}`)
      : [module];
    for (const file of files) {
      const source = statSync(`${root}src/${file}.ts`, { throwIfNoEntry: false });
      const built = statSync(`${root}dist/${file}.js`, { throwIfNoEntry: false });
      if (!built) {
        throw new Error(`dist/${file}.js is missing: the fixtures run compiled code. Build it with \`npx tsc -p .\` (npm test does this).`);
      }
      if (source && source.mtimeMs > built.mtimeMs) {
        throw new Error(`dist/${file}.js is older than src/${file}.ts: rebuild with \`npx tsc -p .\` (npm test does this).`);
      }
    }
  }
}

/**
 * How long a fixture may take to print a line: 10 s; 60 s under the sanitizers
 * (scripts/test-asan.sh), where a child node with the ASan runtime preloaded took more
 * than 10 s to start inside the soft-RoCE guest (TCG, host loaded). A bound on waiting,
 * never a speed check.
 */
const WAIT_MS = process.env.CONNECT_RDMA_ASAN_PRELOAD ? 60_000 : 10_000;

/** A running fixture: its JSON lines as they come, and its exit. */
export class Fixture {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stderr: string[] = [];
  #lines: unknown[] = [];
  #taken = 0;
  #wake: (() => void) | undefined;
  #ended = false;

  /** `launcher`: a command that runs node for the fixture (e.g. a shell lowering a limit first). */
  constructor(script: string, args: string[], nodeArgs: string[] = [], launcher: string[] = []) {
    const argv = [process.execPath, ...nodeArgs, fixtures + script, ...args];
    const command = [...launcher, ...argv];
    this.child = spawn(command[0]!, command.slice(1), { cwd: root, stdio: "pipe" });
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      try {
        this.#lines.push(JSON.parse(line));
      } catch {
        this.#lines.push({ text: line });
      }
      this.#wake?.();
    });
    this.child.stdout.once("end", () => {
      this.#ended = true;
      this.#wake?.();
    });
    this.child.stderr.setEncoding("utf8").on("data", (text: string) => this.stderr.push(text));
  }

  /** The next JSON line the child printed (waits longer under the sanitizers: see WAIT_MS). */
  async line<T = Record<string, unknown>>(timeoutMs = WAIT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length <= this.#taken) {
      if (this.#ended) throw new Error(`fixture ended without output; stderr: ${this.stderr.join("")}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`fixture printed nothing within ${timeoutMs} ms; stderr: ${this.stderr.join("")}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
    return this.#lines[this.#taken++] as T;
  }

  /** Every line printed so far. */
  get lines(): unknown[] {
    return [...this.#lines];
  }

  /** Resolves with the exit, killing the child with SIGKILL after `timeoutMs`. */
  async exit(timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the child (stdin closed, then SIGKILL if it lingers). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin.end();
    await this.exit(3000);
  }
}
