// The session rules of issue 21 hold over shm:// too: they live above the channel, and
// these tests show the rings carry them unchanged. A representative subset of the stream
// suites (bad-input, floods, client-bad-input), with raw peers over the Channel API
// (channel-raw-peer.ts): a hostile client at our server (test/fixtures/hostile-server.js
// on shm, in its own process with a capped heap) and a hostile server at our client.
// The ring rules themselves (records, cursors, rendezvous) are in shm-ring.test.ts and
// shm-rendezvous.test.ts.

import { createClient } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import { ShmEngine } from "../../src/channel/shm-engine.js";
import { Flag, FrameKind } from "../../src/frame/constants.js";
import { encodeCallStart, encodeMessage } from "../../src/frame/frames.js";
import { prepareMetadata } from "../../src/frame/metadata.js";
import { createUringTransport } from "../../src/index.js";
import { shmUnavailable, shmUrl } from "../channel/shm-suite.js";
import { Fixture, requireDist } from "../channel/support/processes.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { ChannelRawPeer, ChannelRawServer } from "./channel-raw-peer.js";
import { attackThenServe, clientOf, emptyMessagesPastWindow, endWithStatus, expectClientProtocolError, goAwayInsteadOfHello } from "./client-attack.js";
import { bytesOf, header, helloBytes, le16, le32 } from "./support.js";

requireDist(["index", "channel", "connect", "frame", "region", "binding", "errors"]);

const MiB = 1024 * 1024;
const enc = new TextEncoder();

interface Memory {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** hostile-server.js on a fresh shm:// URL, a raw client connected to it, and a well-behaved client's check. */
async function attackServer(options: object = {}): Promise<{ fixture: Fixture; peer: ChannelRawPeer; stillServes: () => Promise<void> }> {
  const fixture = new Fixture("hostile-server.js", ["shm", shmUrl(), JSON.stringify(options)], ["--max-old-space-size=64"]);
  onTestFinished(() => fixture.stop());
  const { url } = await fixture.line<{ url: string }>();
  const engine = new ShmEngine();
  onTestFinished(() => engine.close());
  const peer = await ChannelRawPeer.connect(engine, url);
  const stillServes = async (): Promise<void> => {
    const transport = createUringTransport({ url });
    onTestFinished(() => transport.close());
    expect((await createClient(MarketService, transport).getQuote({ symbol: "after" })).symbol).toBe("after");
  };
  return { fixture, peer, stillServes };
}

/** A raw server over shm (its own engine) for the client under test. */
async function hostileServer(script: Parameters<typeof ChannelRawServer.listen>[2], answerHello = true): Promise<ChannelRawServer> {
  const engine = new ShmEngine();
  onTestFinished(() => engine.close());
  return ChannelRawServer.listen(engine, shmUrl(), script, answerHello);
}

gatedDescribe("hostile peers over shm", shmUnavailable(), () => {
  describe("a hostile client at our server", () => {
    it("endless empty requests to a handler that does not read: GOAWAY at the window's end, the server's memory bounded", async () => {
      const { fixture, peer, stillServes } = await attackServer({ monitorMs: 100 });
      const first = await fixture.line<Memory>();
      const stopReading = prepareMetadata(new Headers({ "x-stop-reading": "1" }));
      await peer.send(helloBytes(), bytesOf(encodeCallStart(1, "/market.v1.MarketService/SubmitOrders", stopReading, undefined, undefined, false)));
      const batch = Array.from({ length: 4096 }, () => bytesOf(encodeMessage(1, new Uint8Array(0), false)));
      // The window (1 MiB) admits 131,072 empty messages (8 bytes each): the cap is 8 windows.
      const cap = 1 << 20;
      let sent = 0;
      while (sent < cap && peer.goAway() === undefined) {
        if (!(await peer.send(...batch))) break;
        sent += batch.length;
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(sent, "the server cut the connection long before the cap").toBeLessThan(cap);
      expect(await peer.closedWithin(10_000)).toBe(true);
      expect(peer.goAway()?.message).toMatch(/protocol error: flow-control window exceeded/);
      const worst = { ...first };
      for (let i = 0; i < 5; i++) {
        const sample = await fixture.line<Memory>(5000);
        for (const k of ["heapUsed", "external", "arrayBuffers"] as const) worst[k] = Math.max(worst[k], sample[k]);
      }
      // Samples are taken without a GC (garbage counts too): the margin of floods.test.ts.
      for (const k of ["heapUsed", "external", "arrayBuffers"] as const) expect(worst[k] - first[k], `server ${k} growth`).toBeLessThan(32 * MiB);
      await stillServes();
    }, 60_000);

    it("a CALL_START announcing 65,535 metadata entries is refused from the count", async () => {
      const { peer, stillServes } = await attackServer();
      const path = enc.encode("/market.v1.MarketService/GetQuote");
      await peer.send(helloBytes(), Uint8Array.from([...header(FrameKind.CALL_START, Flag.END_STREAM, 1), ...le16(path.byteLength), ...path, ...le16(0xffff)]));
      expect(await peer.closedWithin(5000)).toBe(true);
      expect(peer.goAway()?.message).toMatch(/^protocol error: .*request headers block of at least 458747 bytes exceeds the announced limit of 65536/);
      await stillServes();
    });
  });

  describe("a hostile server at our client", () => {
    it("a status message of 70,000 bytes is a protocol error, not the call's error", async () => {
      const text = new Uint8Array(70_000).fill(0x61);
      const server = await hostileServer(attackThenServe((conn, start) => conn.send(endWithStatus(start.streamId, [13, ...le32(text.byteLength), ...text, ...le16(0)]))));
      const { client: c } = clientOf(server.url);
      await expectClientProtocolError(server, c.getQuote({ symbol: "x" }), () => c.getQuote({ symbol: "next" }), /malformed END frame: status of at least 70005 bytes exceeds the announced limit of 65536/);
    });

    it("a GOAWAY instead of HELLO: the call fails with its code and message", () =>
      goAwayInsteadOfHello(
        (script) => hostileServer(script, false),
        (server) => clientOf(server.url).client,
      ));

    it("empty messages past the window without CREDIT are a protocol error", () =>
      emptyMessagesPastWindow(
        (script) => hostileServer(script),
        (server, options) => clientOf(server.url, options).client,
      ));
  });
});
