// The demo's server child, seen from the parent: start it, ask it things over IPC
// (request/response by message type), stop it. It never outlives the parent.
import { fork } from "node:child_process";

/** A running server child (demo/market-server.js or any script speaking its protocol). */
export class ServerProcess {
  #child;
  #inbox = [];
  #waiting = [];
  #exited;

  constructor(script, args = []) {
    this.#child = fork(script, args, { stdio: ["ignore", "inherit", "pipe", "ipc"] });
    this.stderr = "";
    this.#child.stderr.setEncoding("utf8").on("data", (text) => (this.stderr = (this.stderr + text).slice(-4000)));
    this.#child.on("message", (message) => {
      this.#inbox.push(message);
      this.#deliver();
    });
    this.#child.on("exit", (code, signal) => {
      this.#exited = { code, signal };
      this.#deliver();
    });
    process.once("exit", () => this.#child.kill("SIGKILL"));
  }

  get pid() {
    return this.#child.pid;
  }

  /** Sends { type, ...fields } and waits for the reply of `replyType` (default: the same type). */
  async request(type, fields = {}, { replyType = type, timeoutMs = 5000 } = {}) {
    if (type) this.#child.send({ type, ...fields });
    return this.next(replyType, timeoutMs);
  }

  /** The next message of `type`; rejects on the child's error report, its exit, or timeout. */
  next(type, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const waiter = { type, resolve, reject };
      waiter.timer = setTimeout(() => {
        this.#waiting = this.#waiting.filter((w) => w !== waiter);
        reject(new Error(`the server process sent no "${type}" within ${timeoutMs} ms${this.#stderrTail()}`));
      }, timeoutMs);
      this.#waiting.push(waiter);
      this.#deliver();
    });
  }

  /** Asks the child to stop, and kills it if it does not exit within `timeoutMs`. */
  async stop(timeoutMs = 3000) {
    if (this.#exited) return;
    const exited = new Promise((resolve) => this.#child.once("exit", resolve));
    if (this.#child.connected) this.#child.send({ type: "stop" });
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  #deliver() {
    for (const waiter of [...this.#waiting]) {
      const index = this.#inbox.findIndex((m) => m?.type === waiter.type);
      const failure = this.#inbox.find((m) => m?.type === "error");
      let settle;
      if (index >= 0) settle = () => waiter.resolve(this.#inbox.splice(index, 1)[0]);
      else if (failure) settle = () => waiter.reject(new Error(`the server process failed:\n${failure.message}`));
      else if (this.#exited) {
        settle = () => waiter.reject(new Error(`the server process exited (code ${this.#exited.code}, signal ${this.#exited.signal})${this.#stderrTail()}`));
      }
      if (!settle) continue;
      clearTimeout(waiter.timer);
      this.#waiting = this.#waiting.filter((w) => w !== waiter);
      settle();
    }
  }

  #stderrTail() {
    const tail = this.stderr.trim();
    return tail ? `\n--- server stderr ---\n${tail.split("\n").slice(-10).join("\n")}` : "";
  }
}
