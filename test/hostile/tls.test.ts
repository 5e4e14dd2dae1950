// Hostile peers of TLS on tcp:// (issue 17): a client trusting another CA, a client whose
// certificate another CA signed, raw TCP peers sending garbage TLS records to the server,
// a man in the middle corrupting a record the client receives, a plaintext client against
// a TLS server and a TLS client against a plaintext server. Each: a clear error on the
// legitimate side, the server alive, and a steady mutual-TLS client on its own connection
// unaffected throughout.
import { randomBytes } from "node:crypto";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import * as tls from "node:tls";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";

import { FrameKind } from "../../src/frame/constants.js";
import { encodeEnd } from "../../src/frame/frames.js";
import { prepareMetadata } from "../../src/frame/metadata.js";
import { capabilities, createServer, createUringTransport } from "../../src/index.js";
import type { AuthFailureInfo, ClientTlsOptions, Server } from "../../src/index.js";
import { PLAINTEXT_REFUSAL } from "../../src/connect/plaintext-answer.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { makeTestPkis, opensslUnavailable, type TestPki } from "../support/tls-certs.js";
import { RawConnection } from "./raw-server.js";
import { SteadyClient, boundedRoutes, bytesOf, until } from "./support.js";

const noOpenssl = opensslUnavailable();

let trusted: TestPki;
let rogue: TestPki;
beforeAll(() => {
  if (!noOpenssl) ({ trusted, rogue } = makeTestPkis());
});

/** A mutual-TLS server plus a steady client of it; `check()` asserts the steady client saw no error. */
async function guardedServer(
  plaintext = false,
  handshakeTimeoutMs = 2000,
): Promise<{ url: string; server: Server; failures: AuthFailureInfo[]; check(): Promise<void> }> {
  const failures: AuthFailureInfo[] = [];
  const server = createServer({
    routes: boundedRoutes(),
    // A TLS ClientHello read as a frame header announces megabytes: the handshake timeout ends it.
    handshakeTimeoutMs,
    onAuthFailure: (failure) => failures.push(failure),
    ...(plaintext ? {} : { tls: { key: trusted.server.key, cert: trusted.server.cert, ca: trusted.ca, requestCert: true } }),
  });
  onTestFinished(() => server.close(0));
  const url = await server.listen("tcp://127.0.0.1:0");
  const steady = new SteadyClient(url, "net", 10_000, plaintext ? {} : { tls: goodTls() }).start(1);
  return {
    url,
    server,
    failures,
    async check() {
      const { ok, errors } = await steady.stop();
      expect(errors).toEqual([]);
      expect(ok).toBeGreaterThan(0);
      // And a new connection after the attack works.
      const fresh = createUringTransport({ url, ...(plaintext ? {} : { tls: goodTls() }) });
      onTestFinished(() => fresh.close());
      expect((await createClient(MarketService, fresh).getQuote({ symbol: "after" })).symbol).toBe("after");
    },
  };
}

/** The one TLS failure `guard` counted and reported, once the server saw it. */
async function oneTlsFailure(guard: { server: Server; failures: AuthFailureInfo[] }): Promise<AuthFailureInfo> {
  await until(() => guard.server.stats().tlsFailures >= 1, 5000, "the TLS failure counted");
  // Counted and reported together; nothing else was (the steady client is fine).
  expect(guard.server.stats().tlsFailures).toBe(1);
  expect(guard.server.stats().authFailures).toBe(0);
  expect(guard.failures).toHaveLength(1);
  const failure = guard.failures[0]!;
  expect(failure.peer.engine).toBe("net");
  expect(failure.peer.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
  return failure;
}

function goodTls(): ClientTlsOptions {
  return { ca: trusted.ca, key: trusted.client.key, cert: trusted.client.cert };
}

async function callError(url: string, tlsOptions: ClientTlsOptions | undefined): Promise<ConnectError> {
  const transport = createUringTransport({ url, engine: "net", connectTimeoutMs: 5000, ...(tlsOptions ? { tls: tlsOptions } : {}) });
  onTestFinished(() => transport.close());
  const error = await createClient(MarketService, transport)
    .getQuote({ symbol: "x" })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

/** `count` TLS records of `type` with random bodies, as a raw TCP peer would write them. */
function garbageRecords(type: number, count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, () => Buffer.concat([Buffer.from([type, 0x03, 0x03, 0x00, 0x40]), randomBytes(64)])));
}

gatedDescribe("hostile TLS peers", noOpenssl, () => {
  it("a client that trusts another CA: Unavailable with node:tls's reason; the server serves others", async () => {
    const guard = await guardedServer();
    const error = await callError(guard.url, { ca: rogue.ca, key: trusted.client.key, cert: trusted.client.cert });
    expect(error.code).toBe(Code.Unavailable);
    // OpenSSL names the failure by what it found of the chain; each says the CA is unknown.
    expect(error.message).toMatch(/TLS handshake failed: .*\((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)$/);
    // The server sees the client close during the TLS handshake or right after it (node:tls
    // clients check the certificate once it is done): counted and reported once.
    const failure = await oneTlsFailure(guard);
    expect(failure.reason).toBe("tls-handshake");
    expect(failure.message).toMatch(/\(ECONNRESET\)$|^the client closed the connection after the TLS handshake, before any frame/);
    await guard.check();
  });

  it("a client without a certificate at a server that requires one: Unauthenticated, counted and reported", async () => {
    const guard = await guardedServer();
    const error = await callError(guard.url, { ca: trusted.ca });
    expect(error.code).toBe(Code.Unauthenticated);
    expect(error.message).toMatch(/the server requires a TLS client certificate and none was presented$/);
    const failure = await oneTlsFailure(guard);
    expect(failure).toMatchObject({ reason: "tls-client-certificate", message: "the server requires a TLS client certificate and none was presented" });
    await guard.check();
  });

  it("a client certificate the server's CA did not sign: Unauthenticated with node:tls's reason", async () => {
    const guard = await guardedServer();
    const error = await callError(guard.url, { ca: trusted.ca, key: rogue.client.key, cert: rogue.client.cert });
    expect(error.code).toBe(Code.Unauthenticated);
    expect(error.message).toMatch(/the server refused the TLS client certificate: UNABLE_TO_VERIFY_LEAF_SIGNATURE$/);
    expect((await oneTlsFailure(guard)).reason).toBe("tls-client-certificate");
    await guard.check();
  });

  it("raw TCP peers sending garbage TLS records (handshake and application data): dropped, the server alive", async () => {
    const guard = await guardedServer();
    const port = Number(/:(\d+)$/.exec(guard.url)?.[1]);
    const closes = [0x16, 0x17, 0x15, 0x42].map(async (type) => {
      const socket = net.connect({ host: "127.0.0.1", port });
      onTestFinished(() => void socket.destroy());
      socket.on("error", () => undefined);
      const received: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => received.push(chunk)); // reading: the close is seen
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      socket.write(garbageRecords(type, 8));
      await closed;
      // At most a TLS alert record came back (content type 21), or, to bytes that are not
      // TLS at all, the plaintext answer (a GOAWAY saying the server speaks TLS); no call ran.
      const reply = Buffer.concat(received);
      if (reply.byteLength > 0 && reply[0] !== 0x15) expect(reply.toString("latin1")).toContain(PLAINTEXT_REFUSAL);
    });
    await Promise.all(closes);
    // Each connection counted and reported once.
    await until(() => guard.server.stats().tlsFailures >= 4, 5000, "4 TLS failures");
    expect(guard.server.stats().tlsFailures).toBe(4);
    expect(guard.failures).toHaveLength(4);
    for (const failure of guard.failures) expect(failure.reason).toMatch(/^tls-(plaintext|handshake)$/);
    await guard.check();
  });

  it("a record corrupted on the way to the client (a man in the middle): the call fails Unavailable with the TLS reason, the next works", async () => {
    // A node:tls server speaking our framing, behind a TCP proxy that flips a byte of the
    // server's records once told to.
    const NO_METADATA = prepareMetadata(undefined);
    const server = tls.createServer({ key: trusted.server.key, cert: trusted.server.cert }, (socket) => {
      const conn = new RawConnection(socket);
      void (async () => {
        await conn.next(FrameKind.HELLO);
        await conn.hello();
        for (let from = 0; ; ) {
          const start = await conn.next(FrameKind.CALL_START, 10_000, from);
          from = conn.frames.indexOf(start) + 1;
          await conn.send(bytesOf(encodeEnd(start.streamId, { headers: NO_METADATA, message: new Uint8Array([0x38, 0x01]), status: { code: 0, message: "", details: [] }, trailers: NO_METADATA })));
        }
      })().catch(() => socket.destroy());
    });
    onTestFinished(() => void server.close());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const state = { corrupt: false };
    const proxy = net.createServer((down) => {
      const up = net.connect({ host: "127.0.0.1", port: (server.address() as AddressInfo).port });
      for (const s of [up, down]) s.on("error", () => undefined);
      down.on("data", (chunk: Buffer) => up.write(chunk));
      up.on("data", (chunk: Buffer) => {
        if (state.corrupt) {
          state.corrupt = false;
          chunk = Buffer.from(chunk);
          chunk[chunk.byteLength - 1]! ^= 0xff; // inside the record's authentication tag
        }
        down.write(chunk);
      });
      up.on("close", () => down.destroy());
      down.on("close", () => up.destroy());
    });
    onTestFinished(() => void proxy.close());
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const transport = createUringTransport({ url: `tcp://127.0.0.1:${(proxy.address() as AddressInfo).port}`, tls: { ca: trusted.ca, servername: "localhost" } });
    onTestFinished(() => transport.close());
    const client = createClient(MarketService, transport);

    expect((await client.getQuote({ symbol: "a" })).sequence).toBe(1n);
    state.corrupt = true;
    const error = await client.getQuote({ symbol: "b" }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(Code.Unavailable);
    // node:tls's reason on the TLSSocket path, the kernel's on kTLS (where the kernel offers it).
    expect(error?.message).toMatch(/decryption failed or bad record mac|bad record mac|TLS record.*EBADMSG/i);
    expect((await client.getQuote({ symbol: "c" })).sequence).toBe(1n);
  });

  for (const engine of ["uring", "net"] as const) {
    it(`a plaintext client (${engine}) against a TLS server: Unavailable saying the server speaks TLS; counted, reported, the server alive`, async (ctx) => {
      if (engine === "uring" && !capabilities().ioUring.available) ctx.skip();
      const guard = await guardedServer();
      const transport = createUringTransport({ url: guard.url, engine, connectTimeoutMs: 5000 });
      onTestFinished(() => transport.close());
      const error = await createClient(MarketService, transport)
        .getQuote({ symbol: "x" })
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(error?.code).toBe(Code.Unavailable);
      expect(error?.message).toContain(`connection refused by peer: ${PLAINTEXT_REFUSAL}`);
      const failure = await oneTlsFailure(guard);
      expect(failure.reason).toBe("tls-plaintext");
      expect(failure.message).toMatch(/\(ERR_SSL_WRONG_VERSION_NUMBER\)$/);
      await guard.check();
    });

    it(`a TLS client against a plaintext server (${engine} engine): Unavailable at once, saying the server does not speak TLS`, async (ctx) => {
      if (engine === "uring" && !capabilities().ioUring.available) ctx.skip();
      // The server's handshake timeout (and the client's TLS one, 10 s) are far beyond this
      // test's: only the server closing at the ClientHello's first bytes ends it in time.
      const failures: AuthFailureInfo[] = [];
      const server = createServer({ routes: boundedRoutes(), engine, handshakeTimeoutMs: 600_000, onAuthFailure: (f) => failures.push(f) });
      onTestFinished(() => server.close(0));
      const url = await server.listen("tcp://127.0.0.1:0");
      const error = await callError(url, { ca: trusted.ca });
      expect(error.code).toBe(Code.Unavailable);
      expect(error.message).toMatch(/TLS handshake failed: the server closed the connection without a TLS answer: it likely does not speak TLS/);
      expect(server.stats().tlsFailures).toBe(0);
      const fresh = createUringTransport({ url, engine });
      onTestFinished(() => fresh.close());
      expect((await createClient(MarketService, fresh).getQuote({ symbol: "plain" })).symbol).toBe("plain");
    }, 8000);
  }

  it("a TLS client whose server answers bytes that are not TLS: the server does not speak TLS", async () => {
    // A raw TCP server answering our framing (a HELLO-sized frame) to the ClientHello.
    const raw = net.createServer((socket) => {
      socket.on("error", () => undefined);
      socket.once("data", () => socket.end(Buffer.from([0x24, 0, 0, 0, ...new Array<number>(36).fill(1)])));
    });
    onTestFinished(() => void raw.close());
    await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
    const error = await callError(`tcp://127.0.0.1:${(raw.address() as AddressInfo).port}`, { ca: trusted.ca });
    expect(error.code).toBe(Code.Unavailable);
    expect(error.message).toMatch(/TLS handshake failed: the server does not speak TLS \(its first bytes are not a TLS record\).*\(ERR_SSL_(WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG)\)$/);
  });
});
