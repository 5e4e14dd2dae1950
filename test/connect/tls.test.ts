// TLS on tcp:// (src/channel/tls-options.ts, net-engine.ts over TLSSockets): calls over TLS,
// mutual TLS with the client's certificate in the handler's peerKey, the option checks
// made at construction, and the errors a client gets when TLS verification fails
// (Unavailable when it refuses the server, Unauthenticated when the server refuses it).
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";

import { capabilities, createServer, createTransport, createUringTransport, peerKey } from "../../src/index.js";
import type { ClientTlsOptions, Peer, ServerOptions } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { makeTestPkis, opensslUnavailable, type TestPki } from "../support/tls-certs.js";

const noOpenssl = opensslUnavailable();

let pki: { trusted: TestPki; rogue: TestPki };
beforeAll(() => {
  if (!noOpenssl) pki = makeTestPkis();
});

/** A server over TLS whose getQuote answers with the client certificate's CN seen in peerKey. */
async function tlsServer(tls: Partial<NonNullable<ServerOptions["tls"]>> = {}): Promise<{ url: string; peers: (Peer | undefined)[] }> {
  const peers: (Peer | undefined)[] = [];
  const server = createServer({
    tls: { key: pki.trusted.server.key, cert: pki.trusted.server.cert, ...tls },
    routes: (router) =>
      router.service(MarketService, {
        getQuote: (req, ctx) => {
          const peer = ctx.values.get(peerKey);
          peers.push(peer);
          return { symbol: `${req.symbol}:${String(peer?.certificate?.subject?.CN ?? "")}` };
        },
      }),
  });
  onTestFinished(() => server.close(0));
  return { url: await server.listen("tcp://127.0.0.1:0"), peers };
}

function client(url: string, tls: ClientTlsOptions) {
  const transport = createUringTransport({ url, tls, connectTimeoutMs: 5000 });
  onTestFinished(() => transport.close());
  return createClient(MarketService, transport);
}

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "the call must fail").toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

gatedDescribe("TLS on tcp://", noOpenssl, () => {
  it("carries calls over TLS 1.3 on the net engine; a plaintext-only peer sees no certificate", async () => {
    const { url, peers } = await tlsServer();
    const res = await client(url, { ca: pki.trusted.ca }).getQuote({ symbol: "x" });
    expect(res.symbol).toBe("x:");
    expect(peers[0]?.engine).toBe(capabilities().tls.path === "ktls" ? "uring" : "net");
    expect(peers[0]?.certificate).toBeUndefined();
  });

  it("mutual TLS: the handler sees the client certificate's subject under peerKey", async () => {
    const { url, peers } = await tlsServer({ ca: pki.trusted.ca, requestCert: true });
    const res = await client(url, { ca: pki.trusted.ca, key: pki.trusted.client.key, cert: pki.trusted.client.cert }).getQuote({ symbol: "m" });
    expect(res.symbol).toBe("m:trusted client");
    expect(peers[0]?.certificate?.subject.O).toBe("connect-rdma tests");
    expect(peers[0]?.certificate?.issuer.CN).toBe("trusted test CA");
  });

  it("checks the server name: servername localhost matches, a wrong one is refused with node:tls's reason", async () => {
    const { url } = await tlsServer();
    expect((await client(url, { ca: pki.trusted.ca, servername: "localhost" }).getQuote({ symbol: "n" })).symbol).toBe("n:");
    const error = await failure(client(url, { ca: pki.trusted.ca, servername: "elsewhere.example" }).getQuote({ symbol: "n" }));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.message).toMatch(/TLS handshake failed: Hostname\/IP does not match certificate's altnames.*ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it("an unknown CA: the client refuses the server (Unavailable, the reason from node:tls), the server serves others", async () => {
    const { url } = await tlsServer();
    const error = await failure(client(url, {}).getQuote({ symbol: "u" }));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.message).toMatch(/TLS handshake failed: unable to verify the first certificate \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
    expect((await client(url, { ca: pki.trusted.ca }).getQuote({ symbol: "ok" })).symbol).toBe("ok:");
  });

  it("rejectUnauthorized false: the client accepts a server it cannot verify", async () => {
    const { url } = await tlsServer();
    expect((await client(url, { rejectUnauthorized: false }).getQuote({ symbol: "r" })).symbol).toBe("r:");
  });

  it("a server that requires a certificate the client lacks: Unauthenticated, saying so; no handler ran", async () => {
    const { url, peers } = await tlsServer({ ca: pki.trusted.ca, requestCert: true });
    const error = await failure(client(url, { ca: pki.trusted.ca }).getQuote({ symbol: "c" }));
    expect(error.code).toBe(Code.Unauthenticated);
    expect(error.message).toContain("the server requires a TLS client certificate and none was presented");
    expect(peers).toEqual([]);
  });

  it("requestCert with rejectUnauthorized false: a client without a certificate is served, its peer has none", async () => {
    const { url, peers } = await tlsServer({ ca: pki.trusted.ca, requestCert: true, rejectUnauthorized: false });
    expect((await client(url, { ca: pki.trusted.ca }).getQuote({ symbol: "o" })).symbol).toBe("o:");
    expect(peers[0]?.certificate).toBeUndefined();
  });

  it("createTransport takes tls too; minVersion TLSv1.2 on both sides still negotiates", async () => {
    const { url } = await tlsServer({ minVersion: "TLSv1.2" });
    const transport = createTransport({ url, tls: { ca: pki.trusted.ca, minVersion: "TLSv1.2" } });
    onTestFinished(() => transport.close());
    expect((await createClient(MarketService, transport).getQuote({ symbol: "v" })).symbol).toBe("v:");
  });

  it("capabilities().tls names the path TLS takes here and why", () => {
    const tls = capabilities().tls;
    expect(tls.path).toBe(tls.ktls && capabilities().ioUring.available ? "ktls" : "tlssocket");
    expect(tls.reason).toMatch(tls.path === "ktls" ? /tls ULP.*kernel TLS/ : /no kTLS: |io_uring is unavailable/);
  });
});

describe("tls options are checked at construction", () => {
  const routes = (): void => undefined;
  it("server: key and cert required, unknown names and bad minVersion refused", () => {
    expect(() => createServer({ routes, tls: { key: "k" } as never })).toThrow(/tls needs "key" and "cert"/);
    expect(() => createServer({ routes, tls: { key: "k", cert: "c", certificate: "x" } as never })).toThrow(/tls option "certificate" is not supported/);
    expect(() => createServer({ routes, tls: { key: "k", cert: "c", minVersion: "TLSv1.1" } as never })).toThrow(/minVersion must be "TLSv1.2" or "TLSv1.3"/);
    expect(() => createServer({ routes, tls: { key: "k", cert: "c", requestCert: "yes" } as never })).toThrow(/requestCert must be a boolean/);
  });

  it('engine "uring" with tls is refused with the reason where kTLS is not offered, and with TLS 1.2; tls on a non-tcp URL is refused', async () => {
    if (capabilities().tls.path === "ktls") {
      expect(() => createServer({ routes, engine: "uring", tls: { key: "k", cert: "c" } }).close(0)).not.toThrow();
    } else {
      expect(() => createServer({ routes, engine: "uring", tls: { key: "k", cert: "c" } })).toThrow(/engine "uring" cannot carry tls here: .*TLSSocket/);
      expect(() => createUringTransport({ url: "tcp://127.0.0.1:1", engine: "uring", tls: {} })).toThrow(/engine "uring" cannot carry tls/);
    }
    const tls12 = /engine "uring" (carries TLS 1.3 only|cannot carry tls here)/;
    expect(() => createUringTransport({ url: "tcp://127.0.0.1:1", engine: "uring", tls: { minVersion: "TLSv1.2" } })).toThrow(tls12);
    expect(() => createUringTransport({ url: "unix:///tmp/x.sock", tls: {} })).toThrow(/tls applies to tcp:\/\/ URLs only/);
    expect(() => createTransport({ url: "rdma://127.0.0.1:1", tls: {} })).toThrow(/tls applies to tcp:\/\/ URLs only/);
    const server = createServer({ routes, tls: { key: "k", cert: "c" } });
    onTestFinished(() => server.close(0));
    await expect(server.listen("unix:///tmp/connect-rdma-tls-never.sock")).rejects.toThrow(/tls applies to tcp:\/\/ URLs only/);
  });
});
