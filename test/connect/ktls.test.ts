// kTLS on io_uring (src/channel/ktls-engine.ts, docs/SECURITY.md "kTLS on io_uring"): the
// handshake in node:tls, then kernel TLS on the socket and the connection on io_uring.
// Calls of every shape over it (unary, server and client streams, a message of many
// records), mutual TLS, the kernel's own word that the ULP is installed (TCP_ULP), interop
// with the TLSSocket path both ways (a node:tls peer reads and writes our bytes: they are
// real TLS records, not plaintext), and a peer whose records go bad after the hand-over.
// Runs where the kernel offers the tls ULP (the soft-RoCE guest: test/softroce/rdma-suite
// runs it there with CONNECT_RDMA_REQUIRE=1); elsewhere skipped with the reason printed.
import { randomBytes } from "node:crypto";
import * as net from "node:net";
import * as tls from "node:tls";
import { Code, createClient } from "@connectrpc/connect";
import { beforeAll, expect, it, onTestFinished, vi } from "vitest";

import { capabilities, createServer, createUringTransport, peerKey } from "../../src/index.js";
import type { ClientTlsOptions, Peer, ServerOptions } from "../../src/index.js";
import { KtlsEngine } from "../../src/channel/ktls-engine.js";
import type { NativeChannel } from "../../src/channel/native-channel.js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FrameKind } from "../../src/frame/constants.js";
import { encodeCallStart, type Frame } from "../../src/frame/frames.js";
import { prepareMetadata } from "../../src/frame/metadata.js";
import { parseFrame } from "../../src/frame/parse-frame.js";
import { GetQuoteRequestSchema, MarketService, QuoteSchema } from "../gen/market/v1/market_pb.js";
import { failure } from "../hostile/client-attack.js";
import { bytesOf, framed, helloBytes } from "../hostile/support.js";
import { guestGatedDescribe } from "../support/capability-gate.js";
import { makeTestPkis, opensslUnavailable, type TestPki } from "../support/tls-certs.js";

// QEMU TCG runs the guest 10-50x slower than hardware.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const path = capabilities().tls;
const unavailable = opensslUnavailable() ?? (path.path === "ktls" ? undefined : path.reason);

let pki: TestPki;
beforeAll(() => {
  if (unavailable === undefined) pki = makeTestPkis().trusted;
});

const BIG = 96 * 1024;
const GET_QUOTE = `/${MarketService.typeName}/${MarketService.method.getQuote.name}`;

/** A server on `engine` with TLS whose handlers echo, stream and sum, recording each call's peer. */
async function server(engine: "uring" | "net", tlsOptions: Partial<NonNullable<ServerOptions["tls"]>> = {}): Promise<{ url: string; peers: (Peer | undefined)[] }> {
  const peers: (Peer | undefined)[] = [];
  const s = createServer({
    engine,
    tls: { key: pki.server.key, cert: pki.server.cert, ...tlsOptions },
    routes: (router) =>
      router.service(MarketService, {
        getQuote: (req, ctx) => {
          peers.push(ctx.values.get(peerKey));
          return { symbol: `${req.symbol}:${String(ctx.values.get(peerKey)?.certificate?.subject?.CN ?? "")}`, venuePayload: req.responsePayloadBytes > 0 ? new Uint8Array(req.responsePayloadBytes).fill(7) : req.payload };
        },
        async *subscribe(req) {
          for (let i = 0; i < req.count; i++) yield { symbol: req.symbols[0] ?? "", sequence: BigInt(i), venuePayload: new Uint8Array(req.payloadBytes).fill(i & 0xff) };
        },
        async submitOrders(orders) {
          let accepted = 0;
          let totalQuantity = 0n;
          for await (const order of orders) {
            accepted++;
            totalQuantity += order.quantity;
          }
          return { accepted, totalQuantity };
        },
      }),
  });
  onTestFinished(() => s.close(0));
  return { url: await s.listen("tcp://127.0.0.1:0"), peers };
}

function client(url: string, engine: "uring" | "net", tlsOptions: ClientTlsOptions = {}) {
  const transport = createUringTransport({ url, engine, tls: { ca: pki.ca, servername: "localhost", ...tlsOptions }, connectTimeoutMs: 30_000 });
  onTestFinished(() => transport.close());
  return createClient(MarketService, transport);
}

guestGatedDescribe("kTLS on io_uring", unavailable, () => {
  it("unary, a server stream and a client stream over kTLS; the server's peer runs on io_uring", async () => {
    const { url, peers } = await server("uring");
    const market = client(url, "uring");
    expect((await market.getQuote({ symbol: "k" })).symbol).toBe("k:");
    expect(peers[0]?.engine).toBe("uring");
    const quotes = [];
    for await (const quote of market.subscribe({ symbols: ["S"], count: 20, payloadBytes: 100 })) quotes.push(quote);
    expect(quotes.map((q) => Number(q.sequence))).toEqual([...Array(20).keys()]);
    expect(quotes[19]?.venuePayload).toEqual(new Uint8Array(100).fill(19));
    async function* orders() {
      for (let i = 1; i <= 10; i++) yield { clientOrderId: `o${i}`, symbol: "S", quantity: BigInt(i) };
    }
    const summary = await market.submitOrders(orders());
    expect(summary.accepted).toBe(10);
    expect(summary.totalQuantity).toBe(55n);
  });

  it("messages of many TLS records (96 KiB each way, 70 KiB stream items) arrive whole, byte for byte", async () => {
    const { url } = await server("uring");
    const payload = randomBytes(BIG);
    const market = client(url, "uring");
    expect((await market.getQuote({ symbol: "big", payload })).venuePayload).toEqual(new Uint8Array(payload));
    expect((await market.getQuote({ symbol: "big", responsePayloadBytes: BIG })).venuePayload).toEqual(new Uint8Array(BIG).fill(7));
    const big = [];
    for await (const quote of market.subscribe({ symbols: ["B"], count: 3, payloadBytes: 70 * 1024 })) big.push(quote.venuePayload.byteLength);
    expect(big).toEqual([70 * 1024, 70 * 1024, 70 * 1024]);
  });

  it("mutual TLS: the handler sees the client certificate; a client without one is refused with the reason", async () => {
    const { url, peers } = await server("uring", { ca: pki.ca, requestCert: true });
    const res = await client(url, "uring", { key: pki.client.key, cert: pki.client.cert }).getQuote({ symbol: "m" });
    expect(res.symbol).toBe("m:trusted client");
    expect(peers[0]?.certificate?.issuer.CN).toBe("trusted test CA");
    const error = await failure(client(url, "uring").getQuote({ symbol: "none" }));
    expect(error.message).toContain("the server requires a TLS client certificate and none was presented");
    expect(error.code).toBe(Code.Unauthenticated);
    expect(peers).toHaveLength(1);
  });

  it("interop with the TLSSocket path both ways: a node:tls peer reads and writes the kernel's records", async () => {
    const tlsSocketServer = await server("net");
    const payload = randomBytes(BIG);
    expect((await client(tlsSocketServer.url, "uring").getQuote({ symbol: "b", payload })).venuePayload).toEqual(new Uint8Array(payload));
    expect(tlsSocketServer.peers[0]?.engine).toBe("net");
    // Our TLSSocket client sends its HELLO right after its handshake, before the server's
    // tickets: that connection is served on the TLSSocket path (the kernel never saw those bytes).
    const ktlsServer = await server("uring");
    expect((await client(ktlsServer.url, "net").getQuote({ symbol: "a", payload: randomBytes(BIG) })).symbol).toBe("a:");
    expect(ktlsServer.peers[0]?.engine).toBe("net");
  });

  it("a node:tls client that waits for its tickets gets kTLS on the server: it reads the kernel's records, frame by frame", async () => {
    const { url, peers } = await server("uring");
    const socket = tls.connect({ host: "127.0.0.1", port: Number(/:(\d+)$/.exec(url)?.[1]), ca: pki.ca, servername: "localhost" });
    socket.on("error", () => undefined);
    onTestFinished(() => void socket.destroy());
    let tickets = 0;
    socket.on("session", () => void tickets++);
    await expect.poll(() => tickets, { timeout: 30_000 }).toBe(2);
    let received = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => void (received = Buffer.concat([received, chunk])));
    const request = toBinary(GetQuoteRequestSchema, create(GetQuoteRequestSchema, { symbol: "RAW", responsePayloadBytes: BIG }));
    socket.write(Buffer.concat([framed(helloBytes()), framed(bytesOf(encodeCallStart(1, GET_QUOTE, prepareMetadata(undefined), undefined, request, true)))]));
    const frames = async (): Promise<Frame[]> => {
      const out: Frame[] = [];
      for (let at = 0; at + 4 <= received.byteLength && at + 4 + received.readUInt32LE(at) <= received.byteLength; at += 4 + received.readUInt32LE(at)) {
        out.push(parseFrame(new Uint8Array(received.subarray(at + 4, at + 4 + received.readUInt32LE(at))), true));
      }
      return out;
    };
    await expect.poll(async () => (await frames()).some((f) => f.kind === FrameKind.END), { timeout: 30_000 }).toBe(true);
    const all = await frames();
    expect(all[0]?.kind).toBe(FrameKind.HELLO);
    const end = all.find((f): f is Extract<Frame, { kind: typeof FrameKind.END; halfClose: false }> => f.kind === FrameKind.END && !f.halfClose);
    expect(fromBinary(QuoteSchema, end?.message ?? new Uint8Array()).venuePayload).toEqual(new Uint8Array(BIG).fill(7));
    expect(peers[0]?.engine).toBe("uring");
  });

  it("the engine: both ends' sockets carry the kernel's tls ULP (TCP_ULP) and frames cross them", async () => {
    const serverEngine = new KtlsEngine({ tls: { server: { key: pki.server.key, cert: pki.server.cert } } });
    const clientEngine = new KtlsEngine({ tls: { client: { ca: pki.ca, servername: "localhost" } } });
    onTestFinished(async () => {
      await clientEngine.close();
      await serverEngine.close();
    });
    const accepted: NativeChannel[] = [];
    const received: Uint8Array[] = [];
    const listener = await serverEngine.listen("tcp://127.0.0.1:0", (channel) => {
      accepted.push(channel as NativeChannel);
      return { onFrame: (frame) => void received.push(new Uint8Array(frame)), onEnd: () => undefined, onClose: () => undefined };
    });
    const channel = (await clientEngine.connect(listener.url, { onFrame: () => undefined, onEnd: () => undefined, onClose: () => undefined })) as NativeChannel;
    expect(clientEngine.ulpOf(channel)).toBe("tls");
    const body = randomBytes(50_000);
    const lease = channel.allocate(body.byteLength);
    lease.bytes.set(body);
    channel.send(lease);
    await expect.poll(() => received.length, { timeout: 30_000 }).toBe(1);
    expect(received[0]).toEqual(new Uint8Array(body));
    expect(serverEngine.ulpOf(accepted[0]!)).toBe("tls");
    expect(clientEngine.stats().adoptedKtls).toBe(1);
    expect(serverEngine.stats().adoptedKtls).toBe(1);
  });

  it("a server whose records go bad after the hand-over (garbage, then an alert): the client's call fails saying TLS record", async () => {
    for (const [bad, why] of [
      [(raw: net.Socket) => raw.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x40]), randomBytes(0x40)])), /TLS record.*EBADMSG.*failed authentication/],
      [(_raw: net.Socket, socket: tls.TLSSocket) => socket.end(), /TLS record.*EIO.*not application data/],
    ] as const) {
      const sockets: net.Socket[] = [];
      const hostile = net.createServer((raw) => {
        sockets.push(raw);
        raw.on("error", () => undefined);
        const socket = new tls.TLSSocket(raw, { isServer: true, key: pki.server.key, cert: pki.server.cert });
        socket.on("error", () => undefined);
        // Once our HELLO arrived (decrypted by node:tls: the hand-over kept the record stream), go bad.
        socket.once("data", () => bad(raw, socket));
      });
      onTestFinished(() => {
        for (const s of sockets) s.destroy();
        hostile.close();
      });
      await new Promise<void>((resolve) => hostile.listen(0, "127.0.0.1", resolve));
      const error = await failure(client(`tcp://127.0.0.1:${(hostile.address() as net.AddressInfo).port}`, "uring").getQuote({ symbol: "x" }));
      expect(error.code).toBe(Code.Unavailable);
      expect(error.message).toMatch(why);
    }
  });

  it("a client that sends a garbage record after the hand-over costs its connection only: the server serves others", async () => {
    const { url } = await server("uring");
    const port = Number(/:(\d+)$/.exec(url)?.[1]);
    const raw = net.connect({ host: "127.0.0.1", port });
    raw.on("error", () => undefined);
    onTestFinished(() => void raw.destroy());
    const socket = tls.connect({ socket: raw, ca: pki.ca, servername: "localhost" });
    socket.on("error", () => undefined);
    let tickets = 0;
    socket.on("session", () => void tickets++);
    await expect.poll(() => tickets, { timeout: 30_000 }).toBe(2);
    // A good HELLO first: the server reads it over kTLS and answers with its own.
    const answered = new Promise<Buffer>((resolve) => socket.once("data", resolve));
    socket.write(framed(helloBytes()));
    expect((await answered).byteLength).toBeGreaterThan(4);
    raw.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x40]), randomBytes(0x40)]));
    await new Promise<void>((resolve) => raw.once("close", () => resolve()));
    expect((await client(url, "uring").getQuote({ symbol: "alive" })).symbol).toBe("alive:");
  });
});
