// The closed loop of the Connect benchmark, the same for every RPC driver: `inflight`
// lanes on one client, each awaiting one call and then starting the next. Latency =
// completion - start (performance.now()) of every call started inside the measured
// window, ns in an HDR histogram; calls/s = calls completed inside the window / its
// length. A warm-up precedes the window and is not recorded. Unlike the echo load
// (lib/load.js) replies may complete in any order (HTTP/2 stacks reorder). runStream is
// the server-streaming workload: one stream, messages and bytes counted in the window.
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

/**
 * Reads one server stream (`open()` → { messages, cancel }) as fast as it arrives: after
 * `warmupMs` a measured window of `measureMs` opens; messages/s and payload bytes/s are
 * what arrived inside it ÷ its actual length. The clock is read about once per 64 KiB of
 * payload (not per message: at 1 M msg/s a clock read per message would be a cost of
 * its own), so the window edges are exact to that grain. `stats()` (transport counters)
 * is sampled at both edges. `onMeasureStart()` / `onMeasureEnd()` mark the window for
 * the parent's CPU snapshots. Every message's payload size is checked.
 */
export async function runStream({ open, payloadBytes, warmupMs, measureMs, stats = () => ({}), onMeasureStart = () => {}, onMeasureEnd = () => {} }) {
  const stride = Math.max(1, Math.floor(65536 / payloadBytes));
  const { messages, cancel } = open();
  let count = 0;
  let bytes = 0;
  let untilClock = stride;
  let start;
  let end;
  const warmupEnd = performance.now() + warmupMs;
  try {
    for await (const message of messages) {
      const size = message.payload.byteLength;
      if (size !== payloadBytes) throw new Error(`streamed message ${count} has a ${size}-byte payload, expected ${payloadBytes}`);
      count++;
      bytes += size;
      if (--untilClock > 0) continue;
      untilClock = stride;
      const now = performance.now();
      if (start === undefined) {
        if (now < warmupEnd) continue;
        start = { at: now, count, bytes, stats: stats() };
        onMeasureStart();
      } else if (now - start.at >= measureMs) {
        end = { at: now, count, bytes, stats: stats() };
        onMeasureEnd();
        break;
      }
    }
  } finally {
    cancel();
  }
  if (end === undefined) throw new Error(`the stream ended after ${count} messages, before the measured window closed`);
  const windowMs = end.at - start.at;
  const windowMessages = end.count - start.count;
  const windowBytes = end.bytes - start.bytes;
  const statsDelta = {};
  for (const [key, value] of Object.entries(end.stats)) if (typeof value === "number") statsDelta[key] = value - (start.stats[key] ?? 0);
  return {
    windowMs,
    windowMessages,
    windowBytes,
    messagesPerSec: windowMessages / (windowMs / 1000),
    bytesPerSec: windowBytes / (windowMs / 1000),
    totalMessages: count,
    statsWindow: statsDelta,
  };
}
