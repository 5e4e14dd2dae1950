// Both sides of running an example's server in its own process, so server and clients
// are two processes as in production (over loopback, or two soft-RoCE devices):
//   parent: `const server = await startServerChild(script, [url])` -> { url, engine };
//           `await server.stop()` -> whatever the child reported at shutdown
//   child:  `serveFromParent(async (url) => ({ url, engine, stop: async () => report }))`
// Messages go over Node's IPC channel; a child that fails reports why and exits 1, and a
// child never outlives its parent.
import { fork } from "node:child_process";

/** Starts `script` as a child and waits for it to listen. */
export async function startServerChild(script, args, { timeoutMs = 30_000 } = {}) {
  const child = fork(script, args, { stdio: ["ignore", "inherit", "pipe", "ipc"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text) => {
    stderr = (stderr + text).slice(-4000);
    process.stderr.write(text);
  });
  process.once("exit", () => child.kill("SIGKILL"));
  const next = (type) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`the server process sent no "${type}" within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (message) => {
        if (message?.type === "error") fail(new Error(`the server process failed: ${message.message}`));
        else if (message?.type === type) done(() => resolve(message));
      };
      const onExit = (code, signal) => fail(new Error(`the server process exited (${code ?? signal}) before "${type}"${stderr ? `:\n${stderr}` : ""}`));
      const done = (then) => {
        clearTimeout(timer);
        child.off("message", onMessage);
        child.off("exit", onExit);
        then();
      };
      const fail = (error) => done(() => reject(error));
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
  const ready = await next("ready");
  return {
    url: ready.url,
    engine: ready.engine,
    pid: child.pid,
    async stop() {
      const stopped = next("stopped");
      child.send({ type: "stop" });
      const report = await stopped;
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", resolve)));
      return report;
    },
  };
}

/** Child side: `start(url)` listens and resolves { url, engine, stop }; stop() resolves the report. */
export function serveFromParent(start) {
  const send = (message) => new Promise((resolve) => process.send(message, resolve));
  process.once("disconnect", () => process.exit(0));
  (async () => {
    const url = process.argv[2] ?? "tcp://127.0.0.1:0";
    const running = await start(url);
    process.on("message", async (message) => {
      if (message?.type !== "stop") return;
      const report = await running.stop();
      await send({ type: "stopped", ...report });
      process.exit(0);
    });
    await send({ type: "ready", url: running.url, engine: running.engine });
  })().catch(async (error) => {
    await send({ type: "error", message: error?.stack ?? String(error) }).catch(() => undefined);
    process.exit(1);
  });
}
