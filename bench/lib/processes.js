// The parent side of the children: starts a Node script (pinned to one CPU with
// `taskset -c` when pinning is on; taskset execs node, which inherits the IPC channel),
// waits for its messages with a deadline, and makes sure no child outlives a run.
import { spawn } from "node:child_process";

const live = new Set();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** A running child: its process, the messages it sent, and what it wrote to stderr. */
export class Child {
  #process;
  #messages = [];
  #waiters = [];
  #exit;
  stderr = "";

  /**
   * Starts `node script ...args` (called `name` in errors), on `cpu` when given (taskset),
   * behind the command prefix `wrap` when given (a profiler: `perf record -g --`).
   */
  constructor(name, script, args, cpu, wrap = []) {
    this.name = name;
    const node = [process.execPath, script, ...args];
    const [command, ...argv] = [...wrap, ...(cpu === undefined ? node : ["taskset", "-c", String(cpu), ...node])];
    this.#process = spawn(command, argv, { stdio: ["ignore", "inherit", "pipe", "ipc"] });
    live.add(this.#process);
    this.#process.stderr.setEncoding("utf8");
    this.#process.stderr.on("data", (text) => {
      this.stderr = (this.stderr + text).slice(-4000);
    });
    this.#process.on("message", (message) => {
      this.#messages.push(message);
      this.#wake();
    });
    this.#exit = new Promise((resolve) => {
      this.#process.on("exit", (code, signal) => {
        live.delete(this.#process);
        this.exited = { code, signal };
        this.#wake();
        resolve(this.exited);
      });
      this.#process.on("error", (error) => {
        live.delete(this.#process);
        this.exited = { code: null, signal: null, error };
        this.#wake();
        resolve(this.exited);
      });
    });
  }

  get pid() {
    return this.#process.pid;
  }

  send(message) {
    if (this.#process.connected) this.#process.send(message);
  }

  /**
   * The next message of `type` (in order of arrival). Rejects with the child's own error
   * report, when it exits first, or after `timeoutMs`.
   */
  next(type, timeoutMs) {
    return new Promise((resolve, reject) => {
      const waiter = { type, resolve, reject, timer: undefined };
      waiter.timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no "${type}" message from ${this.#describe()} within ${timeoutMs} ms${this.#stderrTail()}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
      this.#wake();
    });
  }

  /** Kills the child (if still running) and waits for it to be gone. */
  async stop() {
    if (!this.exited) this.#process.kill("SIGKILL");
    await this.#exit;
  }

  /** Waits up to `timeoutMs` for a voluntary exit, then kills. */
  async finish(timeoutMs) {
    const timer = setTimeout(() => this.#process.kill("SIGKILL"), timeoutMs);
    await this.#exit;
    clearTimeout(timer);
  }

  #wake() {
    for (const waiter of [...this.#waiters]) {
      const failure = this.#messages.find((m) => m?.type === "error");
      const index = this.#messages.findIndex((m) => m?.type === waiter.type);
      let settle;
      if (index >= 0) settle = () => waiter.resolve(this.#messages.splice(index, 1)[0]);
      else if (failure) settle = () => waiter.reject(new Error(`${this.#describe()} failed: ${failure.message}`));
      else if (this.exited) {
        const how = this.exited.error?.message ?? `exit code ${this.exited.code}, signal ${this.exited.signal}`;
        settle = () => waiter.reject(new Error(`${this.#describe()} ended (${how}) before "${waiter.type}"${this.#stderrTail()}`));
      }
      if (!settle) continue;
      clearTimeout(waiter.timer);
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      settle();
    }
  }

  #describe() {
    return `${this.name} (pid ${this.pid})`;
  }

  #stderrTail() {
    const tail = this.stderr.trim().split("\n").slice(-8).join("\n");
    return tail ? `\n--- child stderr ---\n${tail}` : "";
  }
}
