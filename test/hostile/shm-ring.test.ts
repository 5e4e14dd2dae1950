// A hostile shm:// peer: it shares the ring memory, so it can write any index, length or
// flag at any moment. These tests play that peer in this process — a client engine whose
// test code also writes straight into the shared region (the layout of
// native/shm/shm_ring.h) — against a server engine, and check that the server ends only
// that connection (counted as a protocol error), never reads out of bounds, and keeps
// serving its other connections. A peer process that dies (SIGKILL) ends its calls with
// Unavailable.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { expect, it, onTestFinished } from "vitest";
import type { Channel } from "../../src/channel/channel.js";
import { ShmEngine } from "../../src/channel/shm-engine.js";
import { createServer, createUringTransport } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { Inbox, sendBytes } from "../channel/support/inbox.js";
import { pattern, firstDifference } from "../channel/support/pattern.js";
import { Fixture, requireDist } from "../channel/support/processes.js";
import { RegionKeepingEngine } from "../channel/support/shm-pair.js";
import { shmUnavailable, shmUrl } from "../channel/shm-suite.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { eventually } from "../channel/echo-tests.js";
import { ServerLog, marketRoutes } from "../connect/market-service.js";

requireDist(["index", "channel", "connect", "frame", "region", "binding", "errors"]);

const RING = 64 * 1024;
const CONTROL = 4096;
// Control words (shm_ring.h): ring r's head at 64*(1+2r), its tail at 64*(2+2r). The
// client (side 1) writes ring 1.
const CLIENT_HEAD = 64 * 3;
const CLIENT_RING = CONTROL + RING;

async function echoServer(): Promise<{ engine: ShmEngine; url: string }> {
  const engine = new ShmEngine({ ringBytes: RING });
  onTestFinished(() => engine.close());
  const listener = await engine.listen(shmUrl(), (channel) => ({
    onFrame(frame) {
      const lease = channel.allocate(frame.length);
      lease.bytes.set(frame);
      channel.send(lease);
    },
    onClose() {},
  }));
  return { engine, url: listener.url };
}

/**
 * Connects a hostile client; `corrupt` runs inside the client's onFrame for the echo of a
 * first frame — the server is woken right after (the client gives the ring space back).
 */
async function attack(url: string, corrupt: (region: DataView, published: bigint) => void): Promise<Inbox> {
  const engine = new RegionKeepingEngine({ ringBytes: RING });
  onTestFinished(() => engine.close());
  const inbox = new Inbox();
  inbox.hook = () => {
    inbox.hook = undefined;
    const region = engine.regions.values().next().value!;
    corrupt(region, region.getBigUint64(CLIENT_HEAD, true));
  };
  const channel: Channel = await engine.connect(url, inbox);
  inbox.channel = channel;
  await sendBytes(channel, pattern(100, 1));
  return inbox;
}

gatedDescribe("shm: a hostile peer writing the shared ring", shmUnavailable(), () => {
  const cases: [string, (region: DataView, head: bigint) => void][] = [
    ["a head beyond the ring's capacity", (r, head) => r.setBigUint64(CLIENT_HEAD, head + BigInt(RING) + 8n, true)],
    ["a head that is not a multiple of 8", (r, head) => r.setBigUint64(CLIENT_HEAD, head + 3n, true)],
    ["a head that went backwards", (r, head) => r.setBigUint64(CLIENT_HEAD, head - 8n, true)],
    [
      "a record length above maxFrameBytes",
      (r, head) => {
        r.setUint32(CLIENT_RING + Number(head % BigInt(RING)), 0x7fff_0000, true);
        r.setBigUint64(CLIENT_HEAD, head + 8n, true);
      },
    ],
    [
      "a record longer than what was published",
      (r, head) => {
        r.setUint32(CLIENT_RING + Number(head % BigInt(RING)), 1000, true);
        r.setBigUint64(CLIENT_HEAD, head + 16n, true);
      },
    ],
    [
      "a pad marker claiming more than was published",
      (r, head) => {
        r.setUint32(CLIENT_RING + Number(head % BigInt(RING)), 0xffff_ffff, true);
        r.setBigUint64(CLIENT_HEAD, head + 8n, true);
      },
    ],
  ];

  for (const [name, corrupt] of cases) {
    it(`${name}: the server ends that connection (protocol error) and keeps serving others`, async () => {
      const { engine, url } = await echoServer();
      const before = engine.stats().protocolErrors;
      const hostile = await attack(url, corrupt);
      // The server closes the socket without its close record: the hostile side sees a reset.
      const error = await hostile.closed(5000);
      expect(error).toMatchObject({ code: "ECONNRESET" });
      expect(engine.stats().protocolErrors).toBe(before + 1);
      // Another connection to the same server is unaffected.
      const client = new ShmEngine({ ringBytes: RING });
      onTestFinished(() => client.close());
      const inbox = new Inbox();
      const channel = await client.connect(url, inbox);
      inbox.channel = channel;
      await sendBytes(channel, pattern(5000, 7));
      expect(firstDifference(await inbox.next(5000), pattern(5000, 7))).toBe(-1);
      channel.close();
    });
  }

  it("a record whose bytes are not a protocol frame closes that session; the server's other calls go on", async () => {
    const server = createServer({ routes: marketRoutes(new ServerLog()) });
    onTestFinished(() => server.close(0));
    const url = await server.listen(shmUrl());
    const engine = new ShmEngine({ ringBytes: RING });
    onTestFinished(() => engine.close());
    const inbox = new Inbox();
    const channel = await engine.connect(url, inbox);
    inbox.channel = channel;
    await sendBytes(channel, pattern(64, 3)); // garbage where a HELLO must come
    await inbox.closed(5000);
    expect(inbox.closes).toHaveLength(1);
    expect(channel.closed).toBe(true);
    const transport = createUringTransport({ url });
    onTestFinished(() => transport.close());
    const reply = await createClient(MarketService, transport).getQuote({ symbol: "OK" });
    expect(reply.symbol).toBe("OK");
  });

  it("a peer process killed mid-call: the call ends with Unavailable", async () => {
    const fixture = new Fixture("hostile-server.js", ["shm", shmUrl()]);
    onTestFinished(() => fixture.stop());
    const { url } = await fixture.line<{ url: string }>();
    const transport = createUringTransport({ url });
    onTestFinished(() => transport.close());
    const client = createClient(MarketService, transport);
    expect((await client.getQuote({ symbol: "A" })).symbol).toBe("A");
    const slow = client.getQuote({ symbol: "SLOW:10000" }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    fixture.child.kill("SIGKILL");
    const error = await slow;
    expect(error?.code).toBe(Code.Unavailable);
  });

  it("the engine's server side holds no connection after the hostile peers are gone", async () => {
    const { engine, url } = await echoServer();
    await attack(url, (r, head) => r.setBigUint64(CLIENT_HEAD, head + 5n, true)).then((inbox) => inbox.closed(5000));
    await eventually(() => engine.channelCount === 0 && engine.stats().active === 1);
  });
});
