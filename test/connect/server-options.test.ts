// What createServer offers beside connectNodeAdapter's routes (issue 19 item 6): bind
// errors that name the URL, maxTimeoutMs, contextValues, requestPathPrefix refused.
import { closeSync, lstatSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient, createContextKey, createContextValues } from "@connectrpc/connect";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";

import { native } from "../../src/binding.js";
import { createMemoryEngine, createServer, createUringTransport } from "../../src/index.js";
import type { ServerOptions } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { ServerLog, marketRoutes } from "./market-service.js";

const routes = marketRoutes(new ServerLog());

describe.each(["net", "auto"] as const)("bind errors (engine %s)", (engine) => {
  it("a second listen on the same tcp port names the URL and keeps the code", async () => {
    const first = createServer({ routes, engine });
    onTestFinished(() => first.close());
    const url = await first.listen("tcp://127.0.0.1:0");
    const second = createServer({ routes, engine });
    onTestFinished(() => second.close());
    const error = await second.listen(url).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error?.message).toBe(`bind ${url} failed: Address already in use (EADDRINUSE)`);
    expect(error?.code).toBe("EADDRINUSE");
  });

  it("a stale unix socket file (left by a killed server) is replaced; a live one is EADDRINUSE", async () => {
    const dir = mkdtempSync(join(tmpdir(), "connect-rdma-stale-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "left-by-killed-server.sock");
    // A socket file nobody listens on any more: what a SIGKILLed server leaves.
    closeSync(native().listenUnixFd(path, 0o600, 1));
    expect(lstatSync(path).isSocket()).toBe(true);
    const server = createServer({ routes, engine });
    onTestFinished(() => server.close());
    const url = await server.listen(`unix://${path}`);
    const transport = createUringTransport({ url, engine });
    onTestFinished(() => transport.close());
    expect((await createClient(MarketService, transport).getQuote({ symbol: "ACME" })).symbol).toBe("ACME");

    const second = createServer({ routes, engine });
    onTestFinished(() => second.close());
    const error = await second.listen(url).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error?.code).toBe("EADDRINUSE");
    expect(error?.message).toBe(`bind ${url} failed: Address already in use (EADDRINUSE): a server is listening on this socket file; stop it or pass another path`);
  });
});

let served = 0;
/** A server on a memory:// name with `options`, and a client of it. */
async function serve(options: Omit<ServerOptions, "routes">, routes: (router: ConnectRouter) => void) {
  const server = createServer({ ...options, routes });
  onTestFinished(() => server.close(0));
  const url = await server.listen(`memory://server-options-${process.pid}-${served++}`);
  const engine = createMemoryEngine();
  onTestFinished(() => engine.close());
  const transport = createUringTransport({ url, engine });
  onTestFinished(() => transport.close());
  return createClient(MarketService, transport);
}

/** What a getQuote handler saw: its deadline, and the reason its signal aborted with. */
interface Seen {
  timeoutMs: number | undefined;
  reason: unknown;
}

/** getQuote waits for its signal and records what it saw. */
function waitingRoutes(seen: Seen[]) {
  return (router: ConnectRouter) =>
    router.service(MarketService, {
      getQuote: (_req, ctx) =>
        new Promise((_resolve, reject) => {
          const entry: Seen = { timeoutMs: ctx.timeoutMs(), reason: undefined };
          seen.push(entry);
          ctx.signal.addEventListener("abort", () => {
            entry.reason = ctx.signal.reason;
            reject(ctx.signal.reason);
          });
        }),
    });
}

describe("maxTimeoutMs", () => {
  it("clamps a longer deadline, or none, to the max; the handler's signal aborts with DeadlineExceeded", async () => {
    const seen: Seen[] = [];
    const client = await serve({ maxTimeoutMs: 40 }, waitingRoutes(seen));
    for (const timeoutMs of [undefined, 60_000]) {
      const error = await client.getQuote({ symbol: "slow" }, { timeoutMs }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(error?.code).toBe(Code.DeadlineExceeded);
    }
    expect(seen).toHaveLength(2);
    for (const entry of seen) {
      expect(entry.timeoutMs).toBeDefined();
      expect(entry.timeoutMs).toBeLessThanOrEqual(40);
      expect(ConnectError.from(entry.reason).code).toBe(Code.DeadlineExceeded);
    }
  });

  it("leaves a shorter deadline alone", async () => {
    const seen: Seen[] = [];
    const client = await serve({ maxTimeoutMs: 60_000 }, waitingRoutes(seen));
    await expect(client.getQuote({ symbol: "short" }, { timeoutMs: 30 })).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    expect(seen[0]?.timeoutMs).toBeLessThanOrEqual(30);
  });

  it("is refused unless a positive number", () => {
    for (const bad of [0, -1, Number.NaN, Infinity, "5"]) {
      expect(() => createServer({ routes, maxTimeoutMs: bad as number })).toThrow(RangeError);
    }
  });
});

describe("contextValues", () => {
  const kUser = createContextKey<string>("nobody");

  it("creates each call's values from its URL and headers; interceptors and the handler see them", async () => {
    const inInterceptor: string[] = [];
    const interceptor: Interceptor = (next) => (req) => {
      inInterceptor.push(req.contextValues.get(kUser));
      return next(req);
    };
    const client = await serve(
      {
        interceptors: [interceptor],
        contextValues: (req) => createContextValues().set(kUser, `${req.header.get("x-user")} ${req.url.replace(/^memory:\/\/[^/]+/, "")}`),
      },
      (router) =>
        router.service(MarketService, {
          getQuote: (req, ctx) => ({ symbol: `${req.symbol}:${ctx.values.get(kUser)}` }),
        }),
    );
    const a = await client.getQuote({ symbol: "A" }, { headers: { "x-user": "ann" } });
    const b = await client.getQuote({ symbol: "B" }, { headers: { "x-user": "bob" } });
    expect([a.symbol, b.symbol]).toEqual(["A:ann /market.v1.MarketService/GetQuote", "B:bob /market.v1.MarketService/GetQuote"]);
    expect(inInterceptor).toEqual(["ann /market.v1.MarketService/GetQuote", "bob /market.v1.MarketService/GetQuote"]);
  });

  it("a throw answers the call with the error; the next call is served", async () => {
    const client = await serve(
      {
        contextValues: (req) => {
          if (req.header.get("x-user") === "mallory") throw new ConnectError("who are you", Code.Unauthenticated);
          if (req.header.get("x-user") === "bug") throw new Error("plain bug");
          return createContextValues();
        },
      },
      (router) => router.service(MarketService, { getQuote: (req) => ({ symbol: req.symbol }) }),
    );
    await expect(client.getQuote({ symbol: "x" }, { headers: { "x-user": "mallory" } })).rejects.toMatchObject({ code: Code.Unauthenticated, rawMessage: "who are you" });
    await expect(client.getQuote({ symbol: "x" }, { headers: { "x-user": "bug" } })).rejects.toMatchObject({ code: Code.Internal, rawMessage: "internal error" });
    expect((await client.getQuote({ symbol: "ok" })).symbol).toBe("ok");
  });
});
