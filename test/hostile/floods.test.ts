// Message floods on either side, measured in a process of its own with a capped heap
// (--max-old-space-size=64): a client (test/fixtures/hostile-flood-client.js) flooded by a
// hostile server, and a server (test/fixtures/hostile-server.js) flooded by a raw client.
// The flooded side survives, and what the flood costs it (heap, external memory) is
// bounded by the flow-control window, not by how many messages the peer sends (issue 21).
// Work is bounded by counts — messages, frames, windows — never by time. Over each stream
// channel (uring tcp, uring unix, net tcp, net unix); over shm:// in shm-session.test.ts.

import { fromBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { expect, it, onTestFinished } from "vitest";
import { FrameKind } from "../../src/frame/constants.js";
import { encodeCallStart, encodeEnd, encodeHalfClose, encodeHeaders, encodeMessage } from "../../src/frame/frames.js";
import type { Frame } from "../../src/frame/frames.js";
import { prepareMetadata } from "../../src/frame/metadata.js";
import { Fixture, requireDist } from "../channel/support/processes.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { RawServer } from "./raw-server.js";
import { createUringTransport } from "../../src/index.js";
import { MarketService, OrderBatchSummarySchema } from "../gen/market/v1/market_pb.js";
import { STREAM_CHANNELS, RawPeer, bytesOf, framed, helloBytes, sleep, until } from "./support.js";

requireDist(["index", "channel", "connect", "frame", "region", "binding", "errors"]);

interface Memory {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

const MiB = 1024 * 1024;
const WINDOW = MiB; // the client's default initialWindowBytes
const NO_METADATA = prepareMetadata(undefined);
const QUOTE_SEQ_1 = new Uint8Array([0x38, 0x01]); // Quote{sequence: 1}: 2 bytes
const ORDER_QUANTITY_1 = new Uint8Array([0x28, 0x01]); // Order{quantity: 1}: 2 bytes
const SUBMIT_ORDERS = "/market.v1.MarketService/SubmitOrders";
/** A message costs its bytes plus its 8-byte frame header against the window. */
const COST = QUOTE_SEQ_1.byteLength + 8;
const ORDER_COST = ORDER_QUANTITY_1.byteLength + 8;
/** Messages a window admits (a sender may send while its window is > 0). */
const PER_WINDOW = Math.ceil(WINDOW / COST);

function floodClient(engine: string, url: string, mode: "hold" | "flood", frames = 0): Fixture {
  const fixture = new Fixture("hostile-flood-client.js", [engine, url, mode, String(frames)], ["--expose-gc", "--max-old-space-size=64"]);
  onTestFinished(() => fixture.stop());
  return fixture;
}

/** Credit granted so far in `frames` (one stream per connection here). */
function credited(frames: Frame[]): number {
  let sum = 0;
  for (const f of frames) if (f.kind === FrameKind.CREDIT) sum += f.increment;
  return sum;
}

for (const channel of STREAM_CHANNELS) {
  gatedDescribe(`floods: ${channel.name}`, channel.unavailable?.(), () => {
    it(`a window of 2-byte messages (${PER_WINDOW}) the client does not read costs about the window, not a decoded message each`, async () => {
      const total = PER_WINDOW + 10_000; // a window, then more once the client credited it back
      let sent = 0;
      const server = await RawServer.listen(channel, async (conn) => {
        const start = await conn.next(FrameKind.CALL_START);
        const message = bytesOf(encodeMessage(start.streamId, QUOTE_SEQ_1, false));
        await conn.send(bytesOf(encodeHeaders(start.streamId, NO_METADATA, undefined)));
        // A correct sender: only while the window (plus the credit granted) is > 0.
        while (sent < total && !conn.isClosed) {
          let room = WINDOW + credited(conn.frames) - sent * COST;
          if (room <= 0) {
            await sleep(5);
            continue;
          }
          const batch: Uint8Array[] = [];
          for (; room > 0 && batch.length < 8192 && sent < total; sent++, room -= COST) batch.push(message);
          await conn.send(...batch);
        }
        await conn.send(bytesOf(encodeEnd(start.streamId, { headers: undefined, message: undefined, status: { code: 0, message: "", details: [] }, trailers: NO_METADATA })));
      });
      // HELLO, HEADERS and the first window of messages.
      const fixture = floodClient(channel.engine, server.url, "hold", 2 + PER_WINDOW);
      const { baseline } = await fixture.line<{ baseline: Memory }>(30_000);
      const { full } = await fixture.line<{ full: Memory & { framesIn: number } }>(60_000);
      expect(sent, "the server stopped at the window").toBe(PER_WINDOW);
      // Before issue 21 each queued message was a decoded object (~370 bytes each: ~37 MiB here).
      expect(full.heapUsed - baseline.heapUsed, "heap held by a full window of queued messages").toBeLessThan(8 * MiB);
      expect(full.external - baseline.external, "external memory held by it").toBeLessThan(8 * MiB);
      const { done } = await fixture.line<{ done: { consumed: number; code: string } }>(120_000);
      expect(done).toEqual({ consumed: total, code: "OK" });
      const { after } = await fixture.line<{ after: Memory }>(30_000);
      expect(after.heapUsed - baseline.heapUsed).toBeLessThan(8 * MiB);
      expect((await fixture.exited).code).toBe(0);
    }, 240_000);

    it("endless empty messages ignoring the window: the call fails at the window's end, the process survives with bounded memory", async () => {
      const cap = 4_000_000; // far past any window: 48 MB on the wire
      let sent = 0;
      const server = await RawServer.listen(channel, async (conn) => {
        const start = await conn.next(FrameKind.CALL_START);
        await conn.send(bytesOf(encodeHeaders(start.streamId, NO_METADATA, undefined)));
        const batch = Buffer.concat(Array.from({ length: 8192 }, () => framed(bytesOf(encodeMessage(start.streamId, new Uint8Array(0), false)))));
        while (sent < cap && !conn.isClosed) {
          if (!(await conn.write(batch))) break;
          sent += 8192;
        }
      });
      const fixture = floodClient(channel.engine, server.url, "flood");
      const { baseline } = await fixture.line<{ baseline: Memory }>(30_000);
      const { done } = await fixture.line<{ done: { consumed: number; code: string; message: string } }>(120_000);
      expect(done.code, done.message).toBe("Internal");
      expect(done.message).toMatch(/flow-control window exceeded/);
      // Every message costs 8 bytes: at most a window's worth, plus what the consumer credited back.
      expect(done.consumed).toBeGreaterThanOrEqual(WINDOW / 8);
      expect(sent, "the server was cut off long before its cap").toBeLessThan(cap);
      const { after } = await fixture.line<{ after: Memory }>(30_000);
      expect(after.heapUsed - baseline.heapUsed).toBeLessThan(8 * MiB);
      expect(after.external - baseline.external).toBeLessThan(8 * MiB);
      expect((await fixture.exited).code).toBe(0);
    }, 240_000);

    it(`a window of 2-byte requests a handler does not read costs the server about the window, not a decoded message each`, async () => {
      const fixture = new Fixture("hostile-server.js", [channel.engine, channel.url()], ["--expose-gc", "--max-old-space-size=64"]);
      onTestFinished(() => fixture.stop());
      const { url } = await fixture.line<{ url: string }>();
      const peer = await RawPeer.connect(url);
      await peer.send(helloBytes());
      await until(() => peer.frames().some((f) => f.kind === FrameKind.HELLO), 5000, "the server's HELLO");
      const window = (peer.frames().find((f) => f.kind === FrameKind.HELLO) as Extract<Frame, { kind: typeof FrameKind.HELLO }>).hello.initialWindowBytes;
      const perWindow = Math.ceil(window / ORDER_COST);
      const total = perWindow + 10_000; // a window, then more once the handler credited it back
      // The handler reads nothing until HELLO, CALL_START and a window of requests arrived.
      const hold = prepareMetadata(new Headers({ "x-hold-frames": String(2 + perWindow) }));
      await peer.send(bytesOf(encodeCallStart(1, SUBMIT_ORDERS, hold, undefined, undefined, false)));
      const { baseline } = await fixture.line<{ baseline: Memory }>(30_000);
      const request = framed(bytesOf(encodeMessage(1, ORDER_QUANTITY_1, false)));
      let sent = 0;
      // A correct sender: only while the window (plus the credit granted) is > 0.
      const sendWhileRoom = async (): Promise<void> => {
        let room = window + credited(peer.frames()) - sent * ORDER_COST;
        while (room > 0 && sent < total) {
          const batch: Buffer[] = [];
          for (; room > 0 && batch.length < 8192 && sent < total; sent++, room -= ORDER_COST) batch.push(request);
          await peer.write(Buffer.concat(batch));
        }
      };
      await sendWhileRoom();
      const { full } = await fixture.line<{ full: Memory }>(60_000);
      expect(sent, "the peer stopped at the window").toBe(perWindow);
      // Before issue 21 each queued request was a decoded object (hundreds of bytes each: tens of MiB here).
      expect(full.heapUsed - baseline.heapUsed, "heap held by a full window of queued requests").toBeLessThan(8 * MiB);
      expect(full.external - baseline.external, "external memory held by it").toBeLessThan(8 * MiB);
      expect(full.arrayBuffers - baseline.arrayBuffers, "array buffers held by it").toBeLessThan(8 * MiB);
      while (sent < total && !peer.isClosed) {
        await sendWhileRoom();
        await sleep(5);
      }
      await peer.send(bytesOf(encodeHalfClose(1)));
      const { after } = await fixture.line<{ after: Memory }>(120_000);
      expect(after.heapUsed - baseline.heapUsed).toBeLessThan(8 * MiB);
      await until(() => peer.frames().some((f) => f.kind === FrameKind.END && f.streamId === 1), 10_000, "the call's END");
      const end = peer.frames().find((f) => f.kind === FrameKind.END && f.streamId === 1) as Extract<Frame, { kind: typeof FrameKind.END; halfClose: false }>;
      expect(end.status.code).toBe(0);
      // The reply rides on HEADERS, a MESSAGE or the END, as the server chose.
      const reply = peer.frames().flatMap((f) => ("message" in f && f.streamId === 1 && f.message !== undefined ? [f.message] : []));
      expect(reply).toHaveLength(1);
      expect(fromBinary(OrderBatchSummarySchema, reply[0] as Uint8Array).accepted).toBe(total);
    }, 240_000);

    it("a client's endless empty requests to a handler that does not read: the connection ends at the window, the server survives with bounded memory", async () => {
      const fixture = new Fixture("hostile-server.js", [channel.engine, channel.url(), JSON.stringify({ monitorMs: 100 })], ["--max-old-space-size=64"]);
      onTestFinished(() => fixture.stop());
      const { url } = await fixture.line<{ url: string }>();
      const first = await fixture.line<Memory>();
      const peer = await RawPeer.connect(url);
      // A handler that takes no request (x-stop-reading): the requests keep coming.
      const stopReading = prepareMetadata(new Headers({ "x-stop-reading": "1" }));
      const start = framed(bytesOf(encodeCallStart(1, SUBMIT_ORDERS, stopReading, undefined, undefined, false)));
      await peer.write(Buffer.concat([framed(helloBytes()), start]));
      const batch = Buffer.concat(Array.from({ length: 8192 }, () => framed(bytesOf(encodeMessage(1, new Uint8Array(0), false)))));
      const cap = 4_000_000;
      let sent = 0;
      while (sent < cap && !peer.isClosed && peer.goAway() === undefined) {
        if (!(await peer.write(batch))) break;
        sent += 8192;
        // Read between batches (a write the kernel takes at once never yields to I/O): the
        // server's close lingers, so the GOAWAY is what tells this peer to stop.
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(sent, "the server cut the connection long before the cap").toBeLessThan(cap);
      await peer.closedWithin(10_000);
      expect(peer.goAway()?.message).toMatch(/protocol error: flow-control window exceeded/);
      const worst = { ...first };
      for (let i = 0; i < 5; i++) {
        const sample = await fixture.line<Memory>(5000);
        for (const k of ["heapUsed", "external", "arrayBuffers"] as const) worst[k] = Math.max(worst[k], sample[k]);
      }
      // Samples are taken without a GC: garbage counts too, hence the margin.
      expect(worst.heapUsed - first.heapUsed, "server heap growth from the flood").toBeLessThan(32 * MiB);
      expect(worst.external - first.external, "server external memory growth from the flood").toBeLessThan(32 * MiB);
      expect(worst.arrayBuffers - first.arrayBuffers, "server array buffer growth from the flood").toBeLessThan(32 * MiB);
      // Still serving.
      const transport = createUringTransport({ url, engine: channel.engine });
      onTestFinished(() => transport.close());
      expect((await createClient(MarketService, transport).getQuote({ symbol: "after" })).symbol).toBe("after");
    }, 240_000);
  });
}
