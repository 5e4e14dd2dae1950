// The closed-loop load every driver runs under, so rows differ only in the transport:
// `inflight` requests outstanding on one connection, a new one sent as each reply
// arrives. Latency = reply time - send time (performance.now(), ns in an HDR histogram)
// for requests sent inside the measured window; throughput = replies that arrived inside
// the window / window length. A warm-up precedes the window and is not recorded.
// Samples go to a typed array in the loop and into the histogram after it, so the
// measurement costs the loop a store, not a histogram update.
import { performance } from "node:perf_hooks";

import hdr from "hdr-histogram-js";

/** A histogram of nanoseconds (1 ns .. 60 s, 3 significant digits). */
export function newHistogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60e9, numberOfSignificantValueDigits: 3 });
}

/** An append-only list of latencies in ns, in 64 Ki-sample chunks. */
class Samples {
  #chunks = [new Float64Array(1 << 16)];
  #used = 0;

  push(value) {
    if (this.#used === 1 << 16) {
      this.#chunks.push(new Float64Array(1 << 16));
      this.#used = 0;
    }
    this.#chunks[this.#chunks.length - 1][this.#used++] = value;
  }

  recordInto(histogram) {
    const last = this.#chunks.length - 1;
    this.#chunks.forEach((chunk, i) => {
      const n = i === last ? this.#used : chunk.length;
      for (let j = 0; j < n; j++) histogram.recordValue(Math.max(1, Math.round(chunk[j])));
    });
  }
}

/**
 * Runs the load. `connect(onReply, onError)` returns a client with send(seq); replies
 * must come back in order (one connection, FIFO echo) and are checked.
 * `onMeasureStart()` is called when the measured window opens.
 */
export async function runLoad({ connect, inflight, warmupMs, measureMs, onMeasureStart = () => {} }) {
  let size = 1;
  while (size < inflight) size *= 2;
  const mask = size - 1;
  const sentAt = new Float64Array(size);
  const samples = new Samples();

  let client;
  let nextSeq = 0;
  let expected = 0;
  let outstanding = 0;
  let phase = "warmup";
  let warmupEnd = 0;
  let measureStart = 0;
  let measureEnd = 0;
  let windowReplies = 0;
  let settle;
  const done = new Promise((resolve, reject) => {
    settle = { resolve, reject };
  });

  const send = (now) => {
    sentAt[nextSeq & mask] = now;
    client.send(nextSeq);
    nextSeq = (nextSeq + 1) >>> 0;
    outstanding++;
  };

  const onReply = (seq) => {
    const now = performance.now();
    if (seq !== expected) {
      phase = "failed";
      settle.reject(new Error(`reply out of order: got seq ${seq}, expected ${expected}`));
      return;
    }
    expected = (expected + 1) >>> 0;
    outstanding--;
    if (phase === "measure") {
      const sent = sentAt[seq & mask];
      if (sent >= measureStart) samples.push((now - sent) * 1e6);
      if (now < measureEnd) windowReplies++;
      else phase = "drain";
    } else if (phase === "warmup" && now >= warmupEnd) {
      phase = "measure";
      measureStart = now;
      measureEnd = now + measureMs;
      onMeasureStart();
    }
    if (phase === "warmup" || phase === "measure") send(now);
    else if (phase === "drain" && outstanding === 0) settle.resolve();
  };

  const onError = (error) => {
    if (phase === "done" || phase === "failed") return;
    phase = "failed";
    settle.reject(error);
  };

  client = await connect(onReply, onError);
  const start = performance.now();
  warmupEnd = start + warmupMs;
  for (let i = 0; i < inflight; i++) send(performance.now());
  try {
    await done;
  } finally {
    phase = phase === "failed" ? phase : "done";
  }
  const histogram = newHistogram();
  samples.recordInto(histogram);
  return {
    client,
    histogram,
    recorded: histogram.totalCount,
    windowReplies,
    windowMs: measureMs,
    rttPerSec: windowReplies / (measureMs / 1000),
  };
}
