// The closed loop of the Connect benchmark, the same for every RPC driver: `inflight`
// lanes on one client, each awaiting one call and then starting the next. Latency =
// completion - start (performance.now()) of every call started inside the measured
// window, ns in an HDR histogram; calls/s = calls completed inside the window / its
// length. A warm-up precedes the window and is not recorded. Unlike the echo load
// (lib/load.js) replies may complete in any order (HTTP/2 stacks reorder).
import { performance } from "node:perf_hooks";

import hdr from "hdr-histogram-js";

/** A histogram of nanoseconds (1 ns .. 60 s, 3 significant digits). */
export function newHistogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60e9, numberOfSignificantValueDigits: 3 });
}

/**
 * Runs `call(seq)` (a promise per call) in a closed loop. `onMeasureStart()` is called
 * when the measured window opens. Rejects with the first failed call.
 */
export async function runCalls({ call, inflight, warmupMs, measureMs, onMeasureStart = () => {} }) {
  // Latencies go to a typed array during the run and into the histogram after it.
  let samples = new Float64Array(1 << 16);
  let used = 0;
  let seq = 1;
  let measuring = false;
  let measureStart = Infinity;
  let measureEnd = Infinity;
  let windowCalls = 0;
  let failed;
  const warmupEnd = performance.now() + warmupMs;

  async function lane() {
    for (;;) {
      const start = performance.now();
      if (start >= measureEnd || failed !== undefined) return;
      await call(seq++);
      const end = performance.now();
      if (!measuring && end >= warmupEnd) {
        measuring = true;
        measureStart = end;
        measureEnd = end + measureMs;
        onMeasureStart();
      }
      if (start >= measureStart) {
        if (used === samples.length) {
          const grown = new Float64Array(samples.length * 2);
          grown.set(samples);
          samples = grown;
        }
        samples[used++] = (end - start) * 1e6;
      }
      if (end >= measureStart && end < measureEnd) windowCalls++;
    }
  }

  await Promise.all(
    Array.from({ length: inflight }, () =>
      lane().catch((error) => {
        failed ??= error;
      }),
    ),
  );
  if (failed !== undefined) throw failed;
  const histogram = newHistogram();
  for (let i = 0; i < used; i++) histogram.recordValue(Math.max(1, Math.round(samples[i])));
  return { histogram, recorded: used, windowCalls, windowMs: measureMs, callsPerSec: windowCalls / (measureMs / 1000) };
}
