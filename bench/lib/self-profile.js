// V8 CPU profile of a benchmark child, taken from inside (node:inspector), because
// `--cpu-prof` cannot be passed through NODE_OPTIONS. Enabled by the environment
// variable CONNECT_BENCH_CPU_PROF=DIR (bench/connect.js --cpu-prof DIR sets it).
import { mkdir, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { join } from "node:path";

/**
 * Starts profiling this process when CONNECT_BENCH_CPU_PROF names a directory; returns
 * stop(), which writes DIR/NAME-PID.cpuprofile (a no-op when profiling is off).
 */
export async function startSelfProfile(name) {
  const dir = process.env.CONNECT_BENCH_CPU_PROF;
  if (!dir) return async () => undefined;
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    session.disconnect();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(profile));
  };
}
