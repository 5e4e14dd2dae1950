// The undecoded part of a call's message queue: messages come back in order and intact,
// whatever their sizes (chunk boundaries, empty messages, messages larger than a chunk),
// and the queue hands out at most DECODED_QUEUE_LIMIT decoded messages' worth before it
// asks for bytes.
import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import type { Lease } from "../../src/channel/channel.js";
import { ByteBacklog } from "../../src/connect/byte-backlog.js";
import { DECODED_QUEUE_LIMIT, MessageQueue } from "../../src/connect/message-queue.js";

function message(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (seed + i) & 0xff);
}

describe("ByteBacklog", () => {
  it("FIFO across chunk boundaries, with empty and chunk-sized messages; counts bytes", () => {
    const backlog = new ByteBacklog();
    const sizes = [0, 1, 5000, 65_536, 0, 70_000, 3, 64 * 1024 - 3, 2, 0];
    for (let round = 0; round < 3; round++) {
      sizes.forEach((n, i) => backlog.push(message(n, i + round)));
      expect(backlog.length).toBe(sizes.length);
      expect(backlog.byteLength).toBe(sizes.reduce((a, b) => a + b, 0));
      sizes.forEach((n, i) => expect(Buffer.from(backlog.shift() ?? [1]).equals(message(n, i + round))).toBe(true));
      expect(backlog.shift()).toBeUndefined();
      expect(backlog.byteLength).toBe(0);
    }
  });

  it("interleaved pushes and shifts keep the order", () => {
    const backlog = new ByteBacklog();
    const expected: Uint8Array[] = [];
    for (let i = 0; i < 5000; i++) {
      const m = message(i % 97, i);
      backlog.push(m);
      expected.push(m);
      if (i % 3 === 0) expect(Buffer.from(backlog.shift() ?? [1]).equals(expected.shift() as Uint8Array)).toBe(true);
    }
    while (expected.length > 0) expect(Buffer.from(backlog.shift() ?? [1]).equals(expected.shift() as Uint8Array)).toBe(true);
  });
});

describe("MessageQueue: decoded messages bounded", () => {
  it(`asks for bytes after ${DECODED_QUEUE_LIMIT} decoded messages, decodes them when taken, in order, crediting each`, async () => {
    const taken: number[] = [];
    const decoded: number[] = [];
    const queue = new MessageQueue<number>({
      onTake: (size) => taken.push(size),
      decodeQueued: (bytes) => {
        decoded.push(bytes[0] as number);
        return { message: bytes[0] as number, lease: undefined };
      },
    });
    for (let i = 0; i < 1000; i++) {
      if (queue.wantsBytes) queue.pushBytes(Uint8Array.of(i & 0xff, 0));
      else queue.push(i & 0xff, 2, undefined);
    }
    expect(queue.length).toBe(1000);
    expect(decoded).toEqual([]);
    queue.end();
    const got: number[] = [];
    for await (const v of queue) got.push(v);
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => i & 0xff));
    expect(decoded).toHaveLength(1000 - DECODED_QUEUE_LIMIT);
    expect(taken).toEqual(Array(1000).fill(2));
  });

  it("a message that does not decode when taken fails the queue after the ones before it", async () => {
    const queue = new MessageQueue<number>({
      onTake: () => undefined,
      decodeQueued: (bytes) => {
        if (bytes[0] === 0xff) throw new Error("not a message");
        return { message: bytes[0] as number, lease: undefined };
      },
    });
    for (let i = 0; i < DECODED_QUEUE_LIMIT; i++) queue.push(i, 1, undefined);
    queue.pushBytes(Uint8Array.of(100));
    queue.pushBytes(Uint8Array.of(0xff));
    queue.pushBytes(Uint8Array.of(101));
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const v of queue) got.push(v);
      })(),
    ).rejects.toThrow("not a message");
    expect(got).toEqual([...Array.from({ length: DECODED_QUEUE_LIMIT }, (_, i) => i), 100]);
  });

  it("alias: messages past the bound wait as views of their held frames, handed over with them; a discard releases them", async () => {
    const released: number[] = [];
    const lease = (n: number): Lease => ({ bytes: Uint8Array.of(n), released: false, release: () => void released.push(n) });
    const takenLeases: (Lease | undefined)[] = [];
    const queue = new MessageQueue<number>({
      onTake: (_size, l) => takenLeases.push(l),
      decodeQueued: (bytes, held) => ({ message: bytes[0] as number, lease: held }),
    });
    for (let i = 0; i < DECODED_QUEUE_LIMIT; i++) queue.push(i, 1, undefined);
    for (let i = 0; i < 10; i++) queue.pushBytes(Uint8Array.of(100 + i), lease(100 + i));
    for (let i = 0; i < DECODED_QUEUE_LIMIT + 5; i++) await queue.next();
    expect(takenLeases.slice(DECODED_QUEUE_LIMIT).map((l) => l?.bytes[0])).toEqual([100, 101, 102, 103, 104]);
    queue.fail(new Error("cancelled"), true);
    expect(released).toEqual([105, 106, 107, 108, 109]);
  });
});
