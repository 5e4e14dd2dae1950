// Sessions against a raw peer on the memory engine: the handshake (versions, timeout),
// stream-id and flow-control rules, and the receive-side limits a misbehaving client
// cannot get past (docs/PROTOCOL.md §4).

import { Code } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";
import type { Channel } from "../../src/channel/channel.js";
import { createMemoryEngine } from "../../src/channel/memory.js";
import { FrameKind, PROTOCOL_VERSION } from "../../src/frame/constants.js";
import { encodeCallStart, encodeHello, encodeMessage } from "../../src/frame/frames.js";
import { parseFrame } from "../../src/frame/parse-frame.js";
import type { Frame, Hello, OutFrame } from "../../src/frame/frames.js";
import { prepareMetadata } from "../../src/frame/metadata.js";
import { createServer } from "../../src/index.js";
import { ServerLog, marketRoutes } from "../connect/market-service.js";
import { MarketService } from "../gen/market/v1/market_pb.js";

let n = 0;
const HELLO: Hello = { version: PROTOCOL_VERSION, minVersion: PROTOCOL_VERSION, maxMessageBytes: 1 << 20, maxHeaderBytes: 1 << 16, maxConcurrentStreams: 8, initialWindowBytes: 1 << 20 };

async function rawPeer(serverOptions: Parameters<typeof createServer>[0] extends infer O ? Partial<O> : never = {}) {
  const server = createServer({ routes: marketRoutes(new ServerLog()), ...serverOptions });
  onTestFinished(() => server.close(0));
  const url = await server.listen(`memory://session-${process.pid}-${++n}`);
  const engine = createMemoryEngine();
  onTestFinished(() => engine.close());
  const frames: Frame[] = [];
  let closed = false;
  const channel = await engine.connect(url, {
    onFrame: (f) => frames.push(parseFrame(f, true)),
    onClose: () => {
      closed = true;
    },
  });
  const send = (out: OutFrame): void => {
    const lease = channel.allocate(out.byteLength);
    out.write(lease.bytes);
    channel.send(lease);
  };
  const wait = async (cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
    expect(cond()).toBe(true);
  };
  return { channel: channel as Channel, frames, send, wait, isClosed: () => closed };
}

const quoteRequest = new Uint8Array([0x0a, 0x01, 0x41]); // GetQuoteRequest{symbol:"A"}

describe("session", () => {
  it("handshake: the server answers HELLO with the chosen version and its limits", async () => {
    const p = await rawPeer({ maxMessageBytes: 12345, maxConcurrentStreams: 3 });
    p.send(encodeHello({ ...HELLO, version: 7, minVersion: 1 }));
    await p.wait(() => p.frames.length === 1);
    expect(p.frames[0]).toMatchObject({
      kind: FrameKind.HELLO,
      hello: { version: PROTOCOL_VERSION, minVersion: PROTOCOL_VERSION, maxMessageBytes: 12345, maxConcurrentStreams: 3 },
    });
  });

  it("no common version: GOAWAY FailedPrecondition, connection closed", async () => {
    const p = await rawPeer();
    p.send(encodeHello({ ...HELLO, version: 9, minVersion: 5 }));
    await p.wait(() => p.isClosed());
    expect(p.frames[0]).toMatchObject({ kind: FrameKind.GOAWAY, code: Code.FailedPrecondition });
  });

  it("a version 1 peer (messages free of window cost) is refused: GOAWAY FailedPrecondition naming the version", async () => {
    const p = await rawPeer();
    p.send(encodeHello({ ...HELLO, version: 1, minVersion: 1 }));
    await p.wait(() => p.isClosed());
    expect(p.frames[0]).toMatchObject({ kind: FrameKind.GOAWAY, code: Code.FailedPrecondition, message: expect.stringMatching(/unsupported protocol version/) });
  });

  it("handshake timeout closes a silent connection", async () => {
    const p = await rawPeer({ handshakeTimeoutMs: 50 });
    await p.wait(() => p.isClosed());
  });

  it("unary call by hand: one CALL_START in, one END out", async () => {
    const p = await rawPeer();
    p.send(encodeHello(HELLO));
    p.send(encodeCallStart(1, "/market.v1.MarketService/GetQuote", prepareMetadata(undefined), undefined, quoteRequest, true));
    await p.wait(() => p.frames.length === 2);
    expect(p.frames[1]).toMatchObject({ kind: FrameKind.END, streamId: 1, halfClose: false, status: { code: 0 } });
  });

  it("a message above the server's limit fails that call with ResourceExhausted; the connection stays", async () => {
    const p = await rawPeer({ maxMessageBytes: 100 });
    p.send(encodeHello(HELLO));
    p.send(encodeCallStart(1, "/market.v1.MarketService/GetQuote", prepareMetadata(undefined), undefined, new Uint8Array(500), true));
    p.send(encodeCallStart(3, "/market.v1.MarketService/GetQuote", prepareMetadata(undefined), undefined, quoteRequest, true));
    await p.wait(() => p.frames.length === 3);
    expect(p.frames[1]).toMatchObject({ kind: FrameKind.END, streamId: 1, status: { code: Code.ResourceExhausted } });
    expect(p.frames[2]).toMatchObject({ kind: FrameKind.END, streamId: 3, status: { code: 0 } });
    expect(p.isClosed()).toBe(false);
  });

  it("stream ids must increase", async () => {
    const p = await rawPeer();
    p.send(encodeHello(HELLO));
    p.send(encodeCallStart(5, "/market.v1.MarketService/GetQuote", prepareMetadata(undefined), undefined, quoteRequest, true));
    p.send(encodeCallStart(5, "/market.v1.MarketService/GetQuote", prepareMetadata(undefined), undefined, quoteRequest, true));
    await p.wait(() => p.isClosed());
    const goaway = p.frames.find((f) => f.kind === FrameKind.GOAWAY);
    expect(goaway).toMatchObject({ code: Code.Internal });
    expect(goaway?.kind === FrameKind.GOAWAY && goaway.message).toMatch(/stream id 5 not above previous 5/);
  });

  it("a sender overrunning its flow-control window is a protocol error", async () => {
    // A handler that never reads its requests: no credit is ever granted back.
    const p = await rawPeer({
      initialWindowBytes: 1000,
      routes: (r) =>
        r.service(MarketService, {
          submitOrders: (_requests, ctx) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
        }),
    });
    p.send(encodeHello(HELLO));
    p.send(encodeCallStart(1, "/market.v1.MarketService/SubmitOrders", prepareMetadata(undefined), undefined, undefined, false));
    const order = new Uint8Array([0x0a, 0x01, 0x41, 0x32, 0x80, 0x04, ...new Uint8Array(512)]); // id "A", 512-byte signature
    p.send(encodeMessage(1, order, false)); // window 1000 → 482
    p.send(encodeMessage(1, order, false)); // 482 > 0: allowed → -36
    p.send(encodeMessage(1, order, false)); // window ≤ 0: overrun
    await p.wait(() => p.isClosed());
    const goaway = p.frames.find((f) => f.kind === FrameKind.GOAWAY);
    expect(goaway?.kind === FrameKind.GOAWAY && goaway.message).toMatch(/flow-control window exceeded/);
  });

  it("too many concurrent streams are refused with ResourceExhausted", async () => {
    const p = await rawPeer({ maxConcurrentStreams: 1 });
    p.send(encodeHello(HELLO));
    p.send(encodeCallStart(1, "/market.v1.MarketService/Trade", prepareMetadata(undefined), undefined, undefined, false));
    p.send(encodeCallStart(2, "/market.v1.MarketService/Trade", prepareMetadata(undefined), undefined, undefined, false));
    await p.wait(() => p.frames.length === 2);
    expect(p.frames[1]).toMatchObject({ kind: FrameKind.END, streamId: 2, status: { code: Code.ResourceExhausted } });
  });
});
