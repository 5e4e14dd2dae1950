// The send queue and in-place payloads (issue 14): a frame whose writer throws gives its
// lease back and nothing is sent; a frame that must wait for region space detaches its
// payload at once (the message is captured before the application can change it), and
// is written later from what was captured.
import { describe, expect, it } from "vitest";
import type { Channel, Lease } from "../../src/channel/channel.js";
import { encodeMessage } from "../../src/frame/frames.js";
import type { PayloadWriter } from "../../src/frame/payload.js";
import { SendQueue } from "../../src/frame/send-queue.js";

/** A channel with room for `room` leases; records leases released and sent. */
function fakeChannel(room: number) {
  const log = { released: 0, sent: [] as Uint8Array[], waiters: [] as (() => void)[] };
  let free = room;
  const channel = {
    closed: false,
    maxFrameBytes: 1 << 20,
    unsentBytes: 0,
    writtenBytes: 0,
    allocate(n: number): Lease {
      if (free === 0) throw Object.assign(new Error("full"), { code: "ERR_REGION_FULL" });
      free--;
      const bytes = new Uint8Array(n);
      return { bytes, release: () => void (log.released++, free++) } as unknown as Lease;
    },
    send(lease: Lease) {
      log.sent.push(lease.bytes.slice());
    },
    waitForSpace: () => new Promise<void>((resolve) => log.waiters.push(resolve)),
  };
  return { channel: channel as unknown as Channel, log, makeRoom: () => (free++, log.waiters.shift()?.()) };
}

function queueOn(channel: Channel): SendQueue {
  return new SendQueue({ channel, closed: false, closeError: undefined, fail: () => undefined, drained: () => undefined }, 1000, 16);
}

/** A payload writer over a mutable byte value; counts detaches. */
function writer(value: { bytes: Uint8Array }, failWrite = false) {
  let captured: Uint8Array | undefined;
  const w: PayloadWriter & { detaches: number } = {
    detaches: 0,
    byteLength: value.bytes.byteLength,
    writeTo(bytes, offset) {
      if (failWrite) throw new Error("message changed");
      bytes.set(captured ?? value.bytes, offset);
      return offset + w.byteLength;
    },
    detach() {
      w.detaches++;
      captured ??= value.bytes.slice();
    },
  };
  return w;
}

describe("send queue with payload writers", () => {
  it("a writer that throws: the lease is released, nothing is sent, the send rejects", async () => {
    const { channel, log } = fakeChannel(4);
    const sent = queueOn(channel).send(channel, encodeMessage(1, writer({ bytes: new Uint8Array(8) }, true), false));
    await expect(sent).rejects.toThrow("message changed");
    expect(log.released).toBe(1);
    expect(log.sent).toEqual([]);
  });

  it("sent at once: written in place, never detached", () => {
    const { channel, log } = fakeChannel(4);
    const w = writer({ bytes: new Uint8Array([1, 2, 3]) });
    expect(queueOn(channel).send(channel, encodeMessage(1, w, false))).toBeUndefined();
    expect(w.detaches).toBe(0);
    expect([...(log.sent[0] as Uint8Array).subarray(-3)]).toEqual([1, 2, 3]);
  });

  it("a frame that waits for region space detaches its payload when queued; what is sent is what it was then", async () => {
    const { channel, log, makeRoom } = fakeChannel(0);
    const value = { bytes: new Uint8Array([1, 2, 3]) };
    const w = writer(value);
    const sent = queueOn(channel).send(channel, encodeMessage(1, w, false));
    expect(sent).toBeInstanceOf(Promise);
    expect(w.detaches).toBe(1);
    value.bytes = new Uint8Array([9, 9, 9]);
    makeRoom();
    await sent;
    expect([...(log.sent[0] as Uint8Array).subarray(-3)]).toEqual([1, 2, 3]);
  });
});
