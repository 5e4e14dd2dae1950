// Idle cost of a connected shm:// pair in event mode: a server and a client process with
// one open connection and no traffic; CPU time of both (utime + stime from /proc/PID/stat)
// over a window, in % of one CPU. What "burns no CPU while idle" is measured by.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const TICKS = 100; // USER_HZ on Linux

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

const CHILD = `
const { ShmEngine } = await import(${JSON.stringify(join(root, "dist/channel/shm-engine.js"))});
const [role, url] = process.argv.slice(1);
const engine = new ShmEngine({ poll: "event" });
const events = { onFrame() {}, onClose() {} };
if (role === "server") await engine.listen(url, () => events);
else {
  const channel = await engine.connect(url, events);
  const lease = channel.allocate(64);
  channel.send(lease); // one frame each way, then silence
}
process.stdout.write("ready\\n");
process.stdin.on("end", () => engine.close().then(() => process.exit(0)));
process.stdin.resume();
`;

function start(role, url) {
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD, role, url], { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.stdout.once("data", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}

/** Measures `seconds` of an idle connected pair; returns CPU % of one CPU for each side. */
export async function measureIdleCpu(seconds = 10) {
  const url = `shm://${join(tmpdir(), `connect-rdma-idle-${process.pid}.sock`)}`;
  const server = await start("server", url);
  const client = await start("client", url);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = [cpuTicks(server.pid), cpuTicks(client.pid)];
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const after = [cpuTicks(server.pid), cpuTicks(client.pid)];
  client.stdin.end();
  server.stdin.end();
  const pct = (i) => ((after[i] - before[i]) / TICKS / seconds) * 100;
  return { seconds, serverCpuPct: pct(0), clientCpuPct: pct(1) };
}
