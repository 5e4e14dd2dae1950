// The shm:// send path alone: CPU time per frame (sender and receiver, both in this one
// process, so a busy machine's scheduling counts little) for a stream of frames over one
// connection, 64 frames per loop turn, and the engine's counters (frames written in place
// vs copied into the ring). `--root DIR` runs another checkout's build (its dist/ and
// addon), for a before/after comparison on the same machine.
//   node bench/shm-send.js [--root DIR] [--bytes N] [--count N]
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const root = arg("--root", fileURLToPath(new URL("..", import.meta.url)));
const bytes = Number(arg("--bytes", "64"));
const count = Number(arg("--count", bytes > 4096 ? "20000" : "300000"));
const { ShmEngine } = await import(join(root, "dist/channel/shm-engine.js"));

const ringBytes = 64 * 1024 * 1024;
const server = new ShmEngine({ ringBytes });
let received = 0;
let done;
const finished = new Promise((resolve) => (done = resolve));
const listener = await server.listen(`shm://${join(tmpdir(), `crdma-shm-send-${process.pid}.sock`)}`, () => ({
  onFrame(frame) {
    if (frame[0] !== 7) throw new Error("frame corrupted");
    if (++received === count) done();
  },
  onClose() {},
}));
const client = new ShmEngine({ ringBytes });
const channel = await client.connect(listener.url, { onFrame() {}, onClose() {} });

const cpu = process.cpuUsage();
const started = performance.now();
for (let sent = 0; sent < count; ) {
  for (let i = 0; i < 64 && sent < count; i++) {
    let lease;
    try {
      lease = channel.allocate(bytes);
    } catch {
      break; // the region is full: the next turn has room again
    }
    lease.bytes[0] = 7;
    channel.send(lease);
    sent++;
  }
  await new Promise((resolve) => setImmediate(resolve));
}
await finished;
const used = process.cpuUsage(cpu);
const seconds = (performance.now() - started) / 1000;
const stats = client.stats();
console.log(
  JSON.stringify({
    root,
    bytes,
    count,
    cpuNsPerFrame: Math.round(((used.user + used.system) * 1000) / count),
    framesPerSec: Math.round(count / seconds),
    framesInPlace: stats.framesInPlace ?? 0,
    sendCopies: stats.sendCopies,
  }),
);
channel.close();
await client.close();
await server.close();
