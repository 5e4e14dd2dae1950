// Interop over TLS with plain node:tls peers that speak our framing (docs/CHANNELS.md §1)
// frame by frame: our client against a node:tls server (RawConnection from the hostile
// tests over a TLSSocket) that answers HELLO and one unary call, with mutual TLS; and a
// node:tls client against our server that sends HELLO and a CALL_START and reads the
// answer. Each side checks what the other sent, so either end may be someone else's.
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import * as tls from "node:tls";
import type { AddressInfo } from "node:net";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";

import { FrameKind } from "../../src/frame/constants.js";
import { encodeCallStart, encodeEnd } from "../../src/frame/frames.js";
import { parseFrame } from "../../src/frame/parse-frame.js";
import type { Frame } from "../../src/frame/frames.js";
import { prepareMetadata } from "../../src/frame/metadata.js";
import { createServer, createUringTransport, peerKey } from "../../src/index.js";
import { GetQuoteRequestSchema, MarketService, QuoteSchema } from "../gen/market/v1/market_pb.js";
import { RawConnection } from "../hostile/raw-server.js";
import { bytesOf, framed, helloBytes } from "../hostile/support.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { makeTestPkis, opensslUnavailable, type TestPki } from "../support/tls-certs.js";

const noOpenssl = opensslUnavailable();

const GET_QUOTE = `/${MarketService.typeName}/${MarketService.method.getQuote.name}`;
const NO_METADATA = prepareMetadata(undefined);

let pki: TestPki;
beforeAll(() => {
  if (!noOpenssl) pki = makeTestPkis().trusted;
});

gatedDescribe("TLS interop with node:tls peers", noOpenssl, () => {
  it("our client -> a node:tls server answering HELLO and one call frame by frame (mutual TLS)", async () => {
    const connections: RawConnection[] = [];
    const server = tls.createServer({ key: pki.server.key, cert: pki.server.cert, ca: pki.ca, requestCert: true, rejectUnauthorized: true }, (socket) => {
      const conn = new RawConnection(socket);
      connections.push(conn);
      void (async () => {
        await conn.next(FrameKind.HELLO);
        await conn.hello();
        const start = await conn.next(FrameKind.CALL_START);
        const request = fromBinary(GetQuoteRequestSchema, start.message ?? new Uint8Array());
        const quote = toBinary(QuoteSchema, create(QuoteSchema, { symbol: `${request.symbol}!`, sequence: 7n }));
        await conn.send(bytesOf(encodeEnd(start.streamId, { headers: NO_METADATA, message: quote, status: { code: 0, message: "", details: [] }, trailers: NO_METADATA })));
      })().catch(() => socket.destroy());
    });
    onTestFinished(() => {
      for (const c of connections) c.socket.destroy();
      server.close();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const transport = createUringTransport({ url, tls: { ca: pki.ca, key: pki.client.key, cert: pki.client.cert }, connectTimeoutMs: 5000 });
    onTestFinished(() => transport.close());

    const quote = await createClient(MarketService, transport).getQuote({ symbol: "IBM" });
    expect(quote.symbol).toBe("IBM!");
    expect(quote.sequence).toBe(7n);
    const conn = connections[0] as RawConnection;
    expect(conn.malformed).toEqual([]);
    expect(conn.kinds().slice(0, 2)).toEqual([FrameKind.HELLO, FrameKind.CALL_START]);
    expect((await conn.next(FrameKind.CALL_START)).path).toBe(GET_QUOTE);
    const socket = conn.socket as tls.TLSSocket;
    expect(socket.getProtocol()).toBe("TLSv1.3");
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerCertificate().subject.CN).toBe("trusted client");
  });

  it("a node:tls client -> our server: HELLO, CALL_START, and the answer read frame by frame", async () => {
    const seen: unknown[] = [];
    const server = createServer({
      tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca, requestCert: true },
      routes: (router) =>
        router.service(MarketService, {
          getQuote: (req, ctx) => {
            seen.push(ctx.values.get(peerKey)?.certificate?.subject.CN);
            return { symbol: req.symbol.toLowerCase(), sequence: 42n };
          },
        }),
    });
    onTestFinished(() => server.close(0));
    const url = await server.listen("tcp://127.0.0.1:0");
    const port = Number(/:(\d+)$/.exec(url)?.[1]);

    const socket = tls.connect({ host: "127.0.0.1", port, ca: pki.ca, key: pki.client.key, cert: pki.client.cert, servername: "localhost" });
    onTestFinished(() => void socket.destroy());
    const frames: Frame[] = [];
    let pending = Buffer.alloc(0);
    const ended = new Promise<void>((resolve, reject) => {
      socket.on("error", reject);
      socket.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.byteLength >= 4 && pending.byteLength >= 4 + pending.readUInt32LE(0)) {
          const length = pending.readUInt32LE(0);
          frames.push(parseFrame(new Uint8Array(pending.subarray(4, 4 + length)), true));
          pending = pending.subarray(4 + length);
          if (frames.some((f) => f.kind === FrameKind.END)) resolve();
        }
      });
    });
    await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
    expect(socket.getProtocol()).toBe("TLSv1.3");
    const request = toBinary(GetQuoteRequestSchema, create(GetQuoteRequestSchema, { symbol: "MSFT" }));
    socket.write(Buffer.concat([framed(helloBytes()), framed(bytesOf(encodeCallStart(1, GET_QUOTE, NO_METADATA, undefined, request, true)))]));
    await ended;

    expect(frames[0]?.kind).toBe(FrameKind.HELLO);
    const end = frames.find((f): f is Extract<Frame, { kind: typeof FrameKind.END; halfClose: false }> => f.kind === FrameKind.END && !f.halfClose);
    expect(end?.status.code).toBe(0);
    const quote = fromBinary(QuoteSchema, end?.message ?? new Uint8Array());
    expect(quote.symbol).toBe("msft");
    expect(quote.sequence).toBe(42n);
    expect(seen).toEqual(["trusted client"]);
  });
});
