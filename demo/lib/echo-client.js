// Client side of the demo's echo: sends frames over a Channel and checks that each echo
// comes back byte for byte. Replies arrive in order on one channel, so expectations
// wait in a FIFO; a received frame is only valid during onFrame, so it is compared there.
import { performance } from "node:perf_hooks";

/** Deterministic bytes for a frame of `length` (xorshift32 seeded by the length). */
export function pattern(length) {
  const bytes = new Uint8Array(length);
  let x = (length * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x;
  }
  return bytes;
}

/** Index of the first differing byte, or -1. */
function firstDifference(a, b) {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * Connects with `engine` to `url` and returns { channel, echo(bytes) }: echo resolves
 * with the round trip in µs once the same bytes came back, and rejects on a mismatch.
 */
export async function connectEcho(engine, url) {
  const pending = [];
  let closedWith;
  const channel = await engine.connect(url, {
    onFrame(frame) {
      const expected = pending.shift();
      if (!expected) throw new Error(`unexpected ${frame.length} B frame from the server`);
      const at = firstDifference(frame, expected.bytes);
      if (at >= 0) {
        expected.reject(new Error(`echo of ${expected.bytes.length} B came back as ${frame.length} B, first difference at byte ${at}`));
      } else {
        expected.resolve((performance.now() - expected.sentAt) * 1000);
      }
    },
    onClose(error) {
      closedWith = error ?? new Error("the server closed the connection");
      for (const p of pending.splice(0)) p.reject(closedWith);
    },
  });
  const echo = (bytes) =>
    new Promise((resolve, reject) => {
      if (closedWith) return reject(closedWith);
      const lease = channel.allocate(bytes.length);
      lease.bytes.set(bytes);
      pending.push({ bytes, resolve, reject, sentAt: performance.now() });
      channel.send(lease);
    });
  return { channel, echo };
}
