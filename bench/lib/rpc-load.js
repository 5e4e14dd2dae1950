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
 * The measured window of a stream, fed one message at a time: `count(size)` returns true
 * once the window has closed. The clock is read every `stride` messages (64 KiB worth),
 * so small messages are not timed one by one. `result()` gives the window's figures.
 */
export class StreamMeter {
  #stride;
  #untilClock;
  #warmupEnd;
  #measureMs;
  #stats;
  #onMeasureStart;
  #onMeasureEnd;
  #count = 0;
  #bytes = 0;
  #start;
  #end;

  constructor({ payloadBytes, warmupMs, measureMs, stats = () => ({}), onMeasureStart = () => {}, onMeasureEnd = () => {} }) {
    this.#stride = Math.max(1, Math.floor(65536 / payloadBytes));
    this.#untilClock = this.#stride;
    this.#warmupEnd = performance.now() + warmupMs;
    this.#measureMs = measureMs;
    this.#stats = stats;
    this.#onMeasureStart = onMeasureStart;
    this.#onMeasureEnd = onMeasureEnd;
  }

  /** Counts one message of `size` bytes; true once the measured window has closed. */
  count(size) {
    if (this.#end !== undefined) return true;
    this.#count++;
    this.#bytes += size;
    if (--this.#untilClock > 0) return false;
    this.#untilClock = this.#stride;
    const now = performance.now();
    if (this.#start === undefined) {
      if (now < this.#warmupEnd) return false;
      this.#start = { at: now, count: this.#count, bytes: this.#bytes, stats: this.#stats() };
      this.#onMeasureStart();
    } else if (now - this.#start.at >= this.#measureMs) {
      this.#end = { at: now, count: this.#count, bytes: this.#bytes, stats: this.#stats() };
      this.#onMeasureEnd();
      return true;
    }
    return false;
  }

  /** The window's figures; throws when the stream ended before the window closed. */
  result() {
    const start = this.#start;
    const end = this.#end;
    if (end === undefined) throw new Error(`the stream ended after ${this.#count} messages, before the measured window closed`);
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
      totalMessages: this.#count,
      statsWindow: statsDelta,
    };
  }
}

/**
 * Reads the server stream `open()` gives (`{ messages, cancel }`) through a StreamMeter,
 * checking every message's payload size; cancels the stream when the window closes.
 */
export async function runStream({ open, payloadBytes, ...window }) {
  const meter = new StreamMeter({ payloadBytes, ...window });
  const { messages, cancel } = open();
  try {
    let index = 0;
    for await (const message of messages) {
      const size = message.payload.byteLength;
      if (size !== payloadBytes) throw new Error(`streamed message ${index} has a ${size}-byte payload, expected ${payloadBytes}`);
      index++;
      if (meter.count(size)) break;
    }
  } finally {
    cancel();
  }
  return meter.result();
}
