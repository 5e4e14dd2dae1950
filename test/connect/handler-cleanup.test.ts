// A streaming handler that ignores its signal is still finished when its call ends early:
// the server calls return() on the handler's iterator, so the generator's `finally`
// blocks run (cursors closed, subscriptions dropped) instead of it staying suspended at
// a `yield` forever. The same when a response it yielded cannot be sent (over a limit).
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import { createServer, createUringTransport } from "../../src/index.js";
import { BenchService, EchoMessageSchema } from "../../bench/gen/bench/v1/bench_pb.js";

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(what);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("a cancelled stream finishes its handler", () => {
  it("the generator's finally runs after the client cancels, though it never reads its signal", async () => {
    let yielded = 0;
    let finallyRan = false;
    const server = createServer({
      routes: (router) =>
        router.service(BenchService, {
          echo: (req) => req,
          async *stream() {
            try {
              for (;;) {
                await new Promise((r) => setTimeout(r, 5));
                yielded++;
                yield create(EchoMessageSchema, { seq: BigInt(yielded) });
              }
            } finally {
              finallyRan = true;
            }
          },
        }),
    });
    onTestFinished(() => server.close(0));
    const url = await server.listen(`memory://handler-cleanup-${process.pid}`);
    const transport = createUringTransport({ url });
    onTestFinished(() => transport.close());
    const client = createClient(BenchService, transport);
    const controller = new AbortController();
    let received = 0;
    await expect(
      (async () => {
        for await (const _ of client.stream({ count: 0n }, { signal: controller.signal })) {
          if (++received === 3) controller.abort();
        }
      })(),
    ).rejects.toThrow(/cancel|abort/i);
    await until(() => finallyRan, `the handler's finally never ran (it yielded ${yielded} messages)`);
    expect(received).toBe(3);
  });

  it("the generator's finally runs when a message it yielded is over the server's writeMaxBytes", async () => {
    let finallyRan = false;
    const server = createServer({
      writeMaxBytes: 100,
      routes: (router) =>
        router.service(BenchService, {
          echo: (req) => req,
          async *stream() {
            try {
              yield create(EchoMessageSchema, { seq: 1n });
              yield create(EchoMessageSchema, { seq: 2n, payload: new Uint8Array(200) });
              yield create(EchoMessageSchema, { seq: 3n });
            } finally {
              finallyRan = true;
            }
          },
        }),
    });
    onTestFinished(() => server.close(0));
    const url = await server.listen(`memory://handler-cleanup-limit-${process.pid}`);
    const transport = createUringTransport({ url });
    onTestFinished(() => transport.close());
    const seqs: bigint[] = [];
    await expect(
      (async () => {
        for await (const m of createClient(BenchService, transport).stream({ count: 0n })) seqs.push(m.seq);
      })(),
    ).rejects.toThrow(/writeMaxBytes 100/);
    expect(seqs).toEqual([1n]);
    await until(() => finallyRan, "the handler's finally never ran");
  });
});
