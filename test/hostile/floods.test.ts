// Message floods on either side, measured in a process of its own with a capped heap
// (--max-old-space-size=64): a client (test/fixtures/hostile-flood-client.js) flooded by a
// hostile server, and a server (test/fixtures/hostile-server.js) flooded by a raw client.
// The flooded side survives, and what the flood costs it is bounded by the flow-control
// window, not by how many messages the peer sends (issue 21). Work is bounded by counts —
// messages, frames, windows — never by time. Over each stream channel (uring tcp, uring
// unix, net tcp).

import { createClient } from "@connectrpc/connect";
import { expect, it, onTestFinished } from "vitest";
import { FrameKind } from "../../src/frame/constants.js";
import { encodeCallStart, encodeEnd, encodeHeaders, encodeMessage } from "../../src/frame/frames.js";
import { prepareMetadata } from "../../src/frame/metadata.js";
import { Fixture, requireDist } from "../channel/support/processes.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { RawServer } from "./raw-server.js";
import type { RawConnection } from "./raw-server.js";
import { createUringTransport } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { CHANNELS, RawPeer, bytesOf, framed, helloBytes, sleep } from "./support.js";

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
/** A message costs its bytes plus its 8-byte frame header against the window. */
const COST = QUOTE_SEQ_1.byteLength + 8;
/** Messages a window admits (a sender may send while its window is > 0). */
const PER_WINDOW = Math.ceil(WINDOW / COST);

function floodClient(engine: string, url: string, mode: "hold" | "flood", frames = 0): Fixture {
  const fixture = new Fixture("hostile-flood-client.js", [engine, url, mode, String(frames)], ["--expose-gc", "--max-old-space-size=64"]);
  onTestFinished(() => fixture.stop());
  return fixture;
}

/** Credit the client granted so far on the connection. */
function credited(conn: RawConnection): number {
  let sum = 0;
  for (const f of conn.frames) if (f.kind === FrameKind.CREDIT) sum += f.increment;
  return sum;
}

for (const channel of CHANNELS) {
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
          let room = WINDOW + credited(conn) - sent * COST;
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

    it("a client's endless empty requests to a handler that does not read: the connection ends at the window, the server survives with bounded memory", async () => {
      const fixture = new Fixture("hostile-server.js", [channel.engine, channel.url(), JSON.stringify({ monitorMs: 100 })], ["--max-old-space-size=64"]);
      onTestFinished(() => fixture.stop());
      const { url } = await fixture.line<{ url: string }>();
      const first = await fixture.line<{ heapUsed: number; connections: number }>();
      const peer = await RawPeer.connect(url);
      // A handler that takes no request (x-stop-reading): the requests keep coming.
      const stopReading = prepareMetadata(new Headers({ "x-stop-reading": "1" }));
      const start = framed(bytesOf(encodeCallStart(1, "/market.v1.MarketService/SubmitOrders", stopReading, undefined, undefined, false)));
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
      let worst = first.heapUsed;
      for (let i = 0; i < 5; i++) worst = Math.max(worst, (await fixture.line<{ heapUsed: number }>(5000)).heapUsed);
      // Samples are taken without a GC: garbage counts too, hence the margin.
      expect(worst - first.heapUsed, "server heap growth from the flood").toBeLessThan(32 * MiB);
      // Still serving.
      const transport = createUringTransport({ url, engine: channel.engine });
      onTestFinished(() => transport.close());
      expect((await createClient(MarketService, transport).getQuote({ symbol: "after" })).symbol).toBe("after");
    }, 240_000);
  });
}
