// SendQueue: the send side of one session. A frame goes to the channel at once while the
// channel has room for it; otherwise it waits here, in order, for region space, at most
// sendTimeoutMs (then it fails with ERR_REGION_FULL: back-pressure first, a bound second).
// Owns the frames waiting and their promises. The queue itself is bounded: a peer that
// does not read while it makes this side answer (PONGs, ENDs of refused calls, CREDITs)
// cannot grow it past maxQueued frames; beyond that the session is closed as a slow
// consumer (docs/LIMITS.md, "send queue"). Dequeue is O(1) (fifo.ts).
// Also owns the write watchdog: while frames handed to the channel are still unsent, the
// channel's written bytes must grow; when nothing was written for 2 × sendTimeoutMs, the
// peer stopped reading and the session is closed, so the leases its frames hold in the
// region every connection shares come back (the calls on it got their own
// ResourceExhausted after sendTimeoutMs already; the rest get Unavailable).

import type { Channel, Lease } from "../channel/channel.js";
import { codedError } from "../errors.js";
import { StatusCode } from "./constants.js";
import { Fifo } from "./fifo.js";
import { detachPayload } from "./payload.js";
import type { OutFrame } from "./frames.js";
import { StreamResetError } from "./protocol-error.js";

/** The watchdog looks this many times per stall period. */
const CHECKS_PER_PERIOD = 4;

/** What the queue needs from its session. */
export interface SendQueueHost {
  /** The session's channel (set once attached). */
  readonly channel: Channel | undefined;
  /** True once the session closed. */
  readonly closed: boolean;
  /** Why the session closed (queued frames fail with it). */
  readonly closeError: Error | undefined;
  /** The peer does not read: close the session with `error`. */
  fail(error: StreamResetError): void;
  /** The queue emptied (a draining session may close now). */
  drained(): void;
}

interface Queued {
  out: OutFrame;
  since: number;
  resolve(): void;
  reject(e: unknown): void;
}

/** The frames of one session waiting for region space. */
export class SendQueue {
  readonly #host: SendQueueHost;
  readonly #sendTimeoutMs: number;
  readonly #items = new Fifo<Queued>();
  #pumping = false;
  /** No write progress for this long with frames unsent: the peer stopped reading. */
  readonly #stallMs: number;
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  #lastWritten = 0;
  #lastProgress = 0;
  #lastCheck = 0;
  /** Frames that may wait at once before the session is closed as a slow consumer. */
  maxQueued: number;

  constructor(host: SendQueueHost, sendTimeoutMs: number, maxQueued: number) {
    this.#host = host;
    this.#sendTimeoutMs = sendTimeoutMs;
    this.#stallMs = 2 * sendTimeoutMs;
    this.maxQueued = maxQueued;
  }

  /** Frames waiting. */
  get length(): number {
    return this.#items.length;
  }

  /**
   * Hands `out` to `channel` now (returns undefined) or queues it (returns a promise that
   * settles when it was handed over, or rejects: ERR_REGION_FULL after sendTimeoutMs,
   * the session's close error, or the slow-consumer error when the queue is full).
   */
  send(channel: Channel, out: OutFrame): Promise<void> | undefined {
    if (this.#items.length === 0) {
      try {
        if (channel.sendFrame !== undefined) {
          if (channel.sendFrame(out)) {
            if (this.#watchdog === undefined) this.#watch(channel);
            return undefined;
          }
        } else {
          const lease = tryAllocate(channel, out.byteLength);
          if (lease !== undefined) {
            writeInto(lease, out);
            channel.send(lease);
            if (this.#watchdog === undefined) this.#watch(channel);
            return undefined;
          }
        }
      } catch (e) {
        return Promise.reject(e);
      }
    }
    if (this.#items.length >= this.maxQueued) {
      const error = new StreamResetError(
        "ERR_SLOW_PEER",
        StatusCode.RESOURCE_EXHAUSTED,
        `peer is not reading: ${this.#items.length} frames waiting to be sent (limit ${this.maxQueued})`,
      );
      this.#host.fail(error);
      return Promise.reject(error);
    }
    detachPayload(out.payload);
    return new Promise<void>((resolve, reject) => {
      this.#items.push({ out, since: performance.now(), resolve, reject });
      if (!this.#pumping) void this.#pump();
    });
  }

  /** The session closed: what waits fails with its error (a running pump does it itself). */
  close(): void {
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    if (!this.#pumping) this.#rejectAll();
  }

  /** Starts the watchdog (frames were just handed to `channel`). */
  #watch(channel: Channel): void {
    const now = performance.now();
    this.#lastWritten = channel.writtenBytes;
    this.#lastProgress = now;
    this.#lastCheck = now;
    this.#arm();
  }

  #arm(): void {
    // Unref'd: a connection's watchdog never keeps the process alive.
    this.#watchdog = setTimeout(this.#check, Math.max(1, Math.ceil(this.#stallMs / CHECKS_PER_PERIOD)));
    this.#watchdog.unref?.();
  }

  readonly #check = (): void => {
    this.#watchdog = undefined;
    const host = this.#host;
    const channel = host.channel;
    if (host.closed || channel === undefined || channel.closed) return;
    const now = performance.now();
    const period = this.#stallMs / CHECKS_PER_PERIOD;
    // A check that runs late means this process's own loop was stalled: not the peer's fault.
    const late = now - this.#lastCheck > 2 * period;
    this.#lastCheck = now;
    const unsent = channel.unsentBytes;
    if (unsent === 0) {
      if (this.#items.length === 0) return; // nothing in flight: the next send re-arms
      this.#lastProgress = now; // waiting for region space other connections hold
    } else {
      const written = channel.writtenBytes;
      if (written !== this.#lastWritten || late) {
        this.#lastWritten = written;
        this.#lastProgress = now;
      } else if (now - this.#lastProgress >= this.#stallMs) {
        host.fail(
          new StreamResetError(
            "ERR_SLOW_PEER",
            StatusCode.UNAVAILABLE,
            `peer stopped reading: nothing written for ${Math.round(now - this.#lastProgress)} ms with ${unsent} bytes unsent (2 × sendTimeoutMs)`,
          ),
        );
        return;
      }
    }
    this.#arm();
  };

  async #pump(): Promise<void> {
    this.#pumping = true;
    const host = this.#host;
    const timeoutMs = this.#sendTimeoutMs;
    while (this.#items.length > 0 && !host.closed) {
      const channel = host.channel as Channel;
      const head = this.#items.peek() as Queued;
      const remaining = timeoutMs - (performance.now() - head.since);
      if (head.out.skip?.() === true) {
        this.#items.shift();
        head.resolve();
        continue;
      }
      try {
        if (remaining <= 0) {
          throw codedError("ERR_REGION_FULL", `region full: no room for a ${head.out.byteLength}-byte frame within ${timeoutMs} ms`);
        }
        await channel.waitForSpace(head.out.byteLength, Math.ceil(remaining));
        if (host.closed) break;
        if (head.out.skip?.() === true) {
          this.#items.shift();
          head.resolve();
          continue;
        }
        const lease = tryAllocate(channel, head.out.byteLength);
        if (lease === undefined) continue;
        this.#items.shift();
        writeInto(lease, head.out);
        channel.send(lease);
        if (this.#watchdog === undefined) this.#watch(channel);
        head.resolve();
      } catch (e) {
        if (this.#items.peek() === head) this.#items.shift();
        head.reject(e);
      }
    }
    this.#pumping = false;
    if (host.closed) this.#rejectAll();
    else if (this.#items.length === 0) host.drained();
  }

  #rejectAll(): void {
    const error = this.#host.closeError ?? codedError("ERR_CHANNEL_CLOSED", "channel is closed");
    for (const q of this.#items.drain()) q.reject(error);
  }
}

/** Writes `out` into its lease; a writer that throws (a message changed while it was written) gives the lease back. */
function writeInto(lease: Lease, out: OutFrame): void {
  try {
    out.write(lease.bytes);
  } catch (e) {
    lease.release();
    throw e;
  }
}

/** A lease for `byteLength` bytes, or undefined when the region (or this channel's share) is full. */
function tryAllocate(channel: Channel, byteLength: number): Lease | undefined {
  try {
    return channel.allocate(byteLength);
  } catch (e) {
    if ((e as { code?: unknown }).code === "ERR_REGION_FULL") return undefined;
    throw e;
  }
}
