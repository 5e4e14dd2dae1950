// Sequential unary calls (one in flight) take no event-loop turn of their own: a
// setImmediate per call cost each call an extra loop iteration (a poll syscall in event
// mode) and ended the spin of spin mode before the reply came. Counted without timing:
// every setImmediate made while 300 calls run one after another over io_uring TCP.
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { afterEach, beforeEach, expect, it, onTestFinished } from "vitest";
import { createServer, createUringTransport } from "../../src/index.js";
import { BenchService, EchoMessageSchema } from "../../bench/gen/bench/v1/bench_pb.js";
import { listenUrl, uringUnavailable } from "../channel/engines.js";
import { gatedDescribe } from "../support/capability-gate.js";

const CALLS = 300;

let immediates = 0;
const realSetImmediate = globalThis.setImmediate;

gatedDescribe("one call in flight over io_uring", uringUnavailable(), () => {
  beforeEach(() => {
    immediates = 0;
    globalThis.setImmediate = ((...args: Parameters<typeof setImmediate>) => {
      immediates++;
      return realSetImmediate(...args);
    }) as typeof setImmediate;
  });
  afterEach(() => {
    globalThis.setImmediate = realSetImmediate;
  });

  for (const poll of ["event", "spin"] as const) {
    it(`${poll} mode: ${CALLS} sequential unary calls schedule far fewer than one setImmediate per call`, async () => {
      const server = createServer({ routes: (router) => router.service(BenchService, { echo: (req) => req, stream: async function* () {} }), engine: "uring", poll });
      const url = await server.listen(listenUrl("tcp"));
      const transport = createUringTransport({ url, engine: "uring", poll });
      onTestFinished(async () => {
        await transport.close();
        await server.close(0);
      });
      const client = createClient(BenchService, transport);
      const payload = new Uint8Array(64).fill(1);
      await client.echo(create(EchoMessageSchema, { payload, seq: 0n })); // connected, handshake done
      immediates = 0;
      for (let seq = 1; seq <= CALLS; seq++) {
        const reply = await client.echo(create(EchoMessageSchema, { payload, seq: BigInt(seq) }));
        expect(reply.seq).toBe(BigInt(seq));
      }
      // Both ends run in this process: a per-call setImmediate on either side gives >= 300.
      expect(immediates).toBeLessThan(CALLS / 10);
    });
  }
});
