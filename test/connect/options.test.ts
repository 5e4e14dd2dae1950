// Options are checked when a transport or server is created, with connect-node's
// vocabulary in mind (src/connect/foreign-options.ts): a missing or malformed URL, an
// http(s):// URL, a connect-node option that means nothing here and a bogus
// CONNECT_RDMA_ENGINE each get a TypeError naming the option and what to use instead —
// at construction, not at the first call. createTransport() picks the transport from the
// URL's scheme.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";

import { diagnose } from "../../src/cli/doctor.js";
import { autoEngine, createRdmaTransport, createServer, createTransport, createUringTransport } from "../../src/index.js";
import type { ServerOptions, UringTransportOptions } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { ServerLog, marketRoutes } from "./market-service.js";

const routes = marketRoutes(new ServerLog());
const asTransportOptions = (o: Record<string, unknown>) => o as unknown as UringTransportOptions;
const asServerOptions = (o: Record<string, unknown>) => o as unknown as ServerOptions;

describe("transport options", () => {
  const factories = [
    ["createUringTransport", createUringTransport],
    ["createRdmaTransport", createRdmaTransport],
    ["createTransport", createTransport],
  ] as const;

  it.each(factories)("%s: baseUrl (connect-node's name) is refused at construction, naming url", (name, factory) => {
    expect(() => factory(asTransportOptions({ baseUrl: "http://127.0.0.1:8080" }))).toThrow(
      new TypeError(`${name}: option "baseUrl" is connect-node's and has no meaning here: use "url" (tcp://host:port, unix:///path or rdma://ip:port of a connect-rdma server)`),
    );
  });

  it.each(factories)("%s: a missing, non-string, HTTP or malformed url is a TypeError at construction", (name, factory) => {
    expect(() => factory(asTransportOptions({}))).toThrow(new TypeError(`${name}: option "url" is required (tcp://host:port, unix:///path or rdma://ip:port)`));
    expect(() => factory(asTransportOptions({ url: 7000 }))).toThrow(new TypeError(`${name}: option "url" must be a string, got number`));
    expect(() => factory({ url: "http://127.0.0.1:8080" })).toThrow(/is an HTTP URL; connect-rdma speaks its own protocol/);
    expect(() => factory({ url: "https://example.test" })).toThrow(TypeError);
    expect(() => factory({ url: "tcp://127.0.0.1" })).toThrow(/option "url": invalid tcp URL "tcp:\/\/127.0.0.1": expected tcp:\/\/host:port/);
    expect(() => factory({ url: "quic://127.0.0.1:1" })).toThrow(/option "url": unsupported channel URL scheme "quic:"/);
    expect(() => factory(undefined as unknown as UringTransportOptions)).toThrow(TypeError);
  });

  it.each(["httpVersion", "nodeOptions", "useBinaryFormat", "jsonOptions", "useHttpGet", "sendCompression", "acceptCompression", "compressMinBytes", "fetch"])(
    "connect-node's %s is refused with what to do instead",
    (option) => {
      expect(() => createUringTransport(asTransportOptions({ url: "memory://x", [option]: true }))).toThrow(
        new RegExp(`^createUringTransport: option "${option}" is connect-node's and has no meaning here: .+`),
      );
    },
  );

  it("an option set to undefined is not refused (spread configuration objects)", () => {
    expect(() => createUringTransport(asTransportOptions({ url: "memory://x", httpVersion: undefined })).close()).not.toThrow();
  });
});

describe("server options", () => {
  it.each(["jsonOptions", "acceptCompression", "compressMinBytes", "grpc", "grpcWeb", "connect", "fallback", "shutdownSignal", "requestPathPrefix"])(
    "connect-node's %s is refused at createServer()",
    (option) => {
      expect(() => createServer(asServerOptions({ routes, [option]: true }))).toThrow(new RegExp(`^createServer: option "${option}" is connect-node's and has no meaning here: .+`));
    },
  );

  it("routes must be a function", () => {
    expect(() => createServer(asServerOptions({}))).toThrow(new TypeError('createServer: option "routes" must be a function (router) => void, as connectNodeAdapter takes'));
    expect(() => createServer(asServerOptions({ routes: {} }))).toThrow(TypeError);
  });
});

describe("CONNECT_RDMA_ENGINE", () => {
  const saved = process.env.CONNECT_RDMA_ENGINE;
  afterEach(() => {
    if (saved === undefined) delete process.env.CONNECT_RDMA_ENGINE;
    else process.env.CONNECT_RDMA_ENGINE = saved;
  });

  it("a value it cannot mean is an error at construction, in autoEngine() and in doctor", () => {
    process.env.CONNECT_RDMA_ENGINE = "bogus";
    const message = 'CONNECT_RDMA_ENGINE must be "uring", "net" or "auto" (or unset), got "bogus"';
    expect(() => autoEngine()).toThrow(new TypeError(message));
    expect(() => createUringTransport({ url: "tcp://127.0.0.1:1" })).toThrow(new TypeError(message));
    expect(() => createServer({ routes })).toThrow(new TypeError(message));
    expect(diagnose().checks.find((c) => c.id === "engine")).toMatchObject({ status: "fail", summary: message });
  });

  it("net, uring, auto and empty are accepted", () => {
    for (const value of ["net", "uring", "auto", ""]) {
      process.env.CONNECT_RDMA_ENGINE = value;
      expect(() => createUringTransport({ url: "tcp://127.0.0.1:1" }).close()).not.toThrow();
    }
  });
});

describe("createTransport()", () => {
  it("serves memory:// (and tcp://, unix://) through the io_uring transport: a real call", async () => {
    const server = createServer({ routes });
    onTestFinished(() => server.close(0));
    const url = await server.listen(`memory://create-transport-${process.pid}`);
    const transport = createTransport({ url });
    onTestFinished(() => transport.close());
    expect((await createClient(MarketService, transport).getQuote({ symbol: "ACME" })).symbol).toBe("ACME");
  });

  it("gives rdma:// URLs the RDMA transport and checks what applies to which", async () => {
    expect(() => createTransport({ url: "rdma://127.0.0.1:1", engine: "uring" })).toThrow(/option "engine": "uring" chooses between io_uring and node:net/);
    expect(() => createTransport({ url: "tcp://127.0.0.1:1", localAddress: "127.0.0.1" })).toThrow(/option "localAddress" applies to rdma:\/\/ URLs only/);
    expect(() => createTransport({ url: "rdma://127.0.0.1:1", localAddress: "eth0" })).toThrow(/localAddress must be an IPv4 or IPv6 address/);
    const transport = createTransport({ url: "rdma://127.0.0.1:1", localAddress: "127.0.0.1", connectTimeoutMs: 2000 });
    onTestFinished(() => transport.close());
    const error = ConnectError.from(await createClient(MarketService, transport).getQuote({ symbol: "X" }).catch((e: unknown) => e));
    expect(error.code).toBe(Code.Unavailable);
  });
});
