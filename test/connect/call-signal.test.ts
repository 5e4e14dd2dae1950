// The lazily made AbortSignals of calls (src/connect/call-signal.ts): a unary call
// whose code never reads a signal creates no AbortController on either side, and where
// code does read one, it behaves as connect-es's own — checked against connect-es's
// createRouterTransport (runUnaryCall + createHandlerContext) as the reference.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import type { ConnectRouter, HandlerContext, Interceptor, Transport } from "@connectrpc/connect";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { CallSignal } from "../../src/connect/call-signal.js";
import { createServer, createUringTransport } from "../../src/index.js";
import { MarketService, QuoteSchema } from "../gen/market/v1/market_pb.js";
import { sleep } from "./market-service.js";

let n = 0;

/** Our server and transport over the memory engine, for `routes`. */
async function ours(routes: (r: ConnectRouter) => void, interceptors: { client?: Interceptor[]; server?: Interceptor[] } = {}): Promise<Transport> {
  const server = createServer({ routes, interceptors: interceptors.server ?? [] });
  onTestFinished(() => server.close(0));
  const url = await server.listen(`memory://call-signal-${process.pid}-${++n}`);
  const transport = createUringTransport({ url, interceptors: interceptors.client ?? [] });
  onTestFinished(() => transport.close());
  return transport;
}

function reference(routes: (r: ConnectRouter) => void, interceptors: { client?: Interceptor[]; server?: Interceptor[] } = {}): Transport {
  return createRouterTransport(routes, {
    transport: { interceptors: interceptors.client ?? [] },
    router: { interceptors: interceptors.server ?? [] },
  });
}

const TARGETS = [
  ["ours", ours],
  ["connect-es reference", async (routes: (r: ConnectRouter) => void, i?: { client?: Interceptor[]; server?: Interceptor[] }) => reference(routes, i)],
] as const;

/** How a signal looks: aborted, and the reason's kind. */
function state(signal: AbortSignal): string {
  if (!signal.aborted) return "live";
  const r = signal.reason as unknown;
  if (r instanceof ConnectError) return `aborted: ConnectError ${Code[r.code]} "${r.rawMessage}"`;
  return `aborted: ${(r as Error).name}`;
}

describe("CallSignal", () => {
  it("makes no AbortSignal until asked; then one in the call's state", () => {
    const s = new CallSignal(undefined, undefined);
    expect(s.aborted).toBe(false);
    const signal = s.signal;
    expect(s.signal).toBe(signal);
    expect(signal.aborted).toBe(false);
    s.finish();
    expect(state(signal)).toBe("aborted: AbortError");

    const late = new CallSignal(undefined, undefined);
    late.finish();
    expect(state(late.signal)).toBe("aborted: AbortError");
  });

  it("deadline: DeadlineExceeded, and onAbort is told once", async () => {
    const reasons: unknown[] = [];
    const s = new CallSignal(undefined, 20);
    s.onAbort = (r) => reasons.push(r);
    await sleep(60);
    expect(reasons).toHaveLength(1);
    expect(state(s.signal)).toBe('aborted: ConnectError DeadlineExceeded "the operation timed out"');
    expect(s.abort(new Error("later"))).toBe(false);
    expect(reasons).toHaveLength(1);
  });

  it("an aborted linked signal wins over a passed deadline; a later one aborts the call", () => {
    const ac = new AbortController();
    ac.abort(new ConnectError("mine", Code.Aborted));
    expect(state(new CallSignal(ac.signal, 0).signal)).toBe('aborted: ConnectError Aborted "mine"');
    expect(state(new CallSignal(undefined, 0).signal)).toBe('aborted: ConnectError DeadlineExceeded "the operation timed out"');

    const live = new AbortController();
    const s = new CallSignal(live.signal, undefined);
    const other = new AbortController();
    s.follow(other.signal);
    other.abort("other");
    expect(s.reason).toBe("other");
    live.abort("too late");
    expect(s.reason).toBe("other");
  });

  it("fail(): the abort reason if aborted first (as Canceled), else the error", () => {
    const a = new CallSignal(undefined, undefined);
    expect(a.fail(new Error("boom")).code).toBe(Code.Unknown);
    const b = new CallSignal(undefined, undefined);
    b.abort("stop");
    expect(b.fail(new ConnectError("x", Code.Internal)).code).toBe(Code.Canceled);
  });
});

describe("unary calls that never read a signal create no AbortController", () => {
  const Real = globalThis.AbortController;
  afterEach(() => {
    globalThis.AbortController = Real;
  });

  it("on the client and the server (memory engine)", async () => {
    const transport = await ours((r) => r.service(MarketService, { getQuote: (req) => ({ symbol: req.symbol }) }));
    const client = createClient(MarketService, transport);
    await client.getQuote({ symbol: "warm" });
    let made = 0;
    globalThis.AbortController = class extends Real {
      constructor() {
        super();
        made++;
      }
    };
    for (let i = 0; i < 20; i++) expect((await client.getQuote({ symbol: `s${i}` })).symbol).toBe(`s${i}`);
    expect(made).toBe(0);
  });
});

describe.each(TARGETS)("signals where code reads them: %s", (_name, make) => {
  it("a client interceptor's req.signal is live during the call and aborted (AbortError) after it", async () => {
    const seen: string[] = [];
    let signal: AbortSignal | undefined;
    const interceptor: Interceptor = (next) => async (req) => {
      signal = req.signal;
      seen.push(state(req.signal));
      const res = await next(req);
      seen.push(state(req.signal));
      return res;
    };
    const transport = await make((r) => r.service(MarketService, { getQuote: (req) => ({ symbol: req.symbol }) }), { client: [interceptor] });
    await createClient(MarketService, transport).getQuote({ symbol: "A" });
    seen.push(state(signal as AbortSignal));
    expect(seen).toEqual(["live", "live", "aborted: AbortError"]);
  });

  it("a handler's ctx.signal read after it returned is aborted (AbortError); read after a deadline, DeadlineExceeded", async () => {
    const contexts = new Map<string, HandlerContext>();
    const transport = await make((r) =>
      r.service(MarketService, {
        async getQuote(req, ctx) {
          contexts.set(req.symbol, ctx);
          if (req.delayMs > 0) await sleep(req.delayMs);
          return { symbol: req.symbol, sequence: BigInt(ctx.timeoutMs() === undefined ? 0 : 1) };
        },
      }),
    );
    const client = createClient(MarketService, transport);
    expect((await client.getQuote({ symbol: "done" })).sequence).toBe(0n);
    expect(state((contexts.get("done") as HandlerContext).signal)).toBe("aborted: AbortError");
    expect((contexts.get("done") as HandlerContext).url).toMatch(/^[a-z]+:\/\/[^/]+\/market\.v1\.MarketService\/GetQuote$/);
    const e = await client.getQuote({ symbol: "late", delayMs: 150 }, { timeoutMs: 40 }).catch((x: unknown) => ConnectError.from(x));
    expect((e as ConnectError).code).toBe(Code.DeadlineExceeded);
    await sleep(20);
    expect(state((contexts.get("late") as HandlerContext).signal)).toBe('aborted: ConnectError DeadlineExceeded "the operation timed out"');
  });

  it("a server interceptor sees the request's signal and headers; its response trailers reach the client", async () => {
    const interceptor: Interceptor = (next) => async (req) => {
      const res = await next(req);
      res.trailer.set("x-signal", state(req.signal));
      res.trailer.set("x-h", req.header.get("x-h") ?? "");
      return res;
    };
    const transport = await make((r) => r.service(MarketService, { getQuote: (req) => create(QuoteSchema, { symbol: req.symbol }) }), { server: [interceptor] });
    let trailer: Headers | undefined;
    await createClient(MarketService, transport).getQuote({ symbol: "B" }, { headers: { "x-h": "v" }, onTrailer: (t) => (trailer = t) });
    expect(trailer?.get("x-signal")).toBe("live");
    expect(trailer?.get("x-h")).toBe("v");
  });

  it("a signal an interceptor puts in place of the call's cancels it", async () => {
    const mine = new AbortController();
    const interceptor: Interceptor = (next) => (req) => next({ ...req, signal: mine.signal });
    const transport = await make(
      (r) =>
        r.service(MarketService, {
          async getQuote(req, ctx) {
            await sleep(req.delayMs, ctx.signal);
            return { symbol: req.symbol };
          },
        }),
      { client: [interceptor] },
    );
    const call = createClient(MarketService, transport).getQuote({ symbol: "C", delayMs: 5000 });
    setTimeout(() => mine.abort(new ConnectError("interceptor said stop", Code.Aborted)), 30);
    const e = ConnectError.from(await call.catch((x: unknown) => x));
    expect(e.code).toBe(Code.Aborted);
  });
});

describe("server shutdown reaches handlers without a listener per call", () => {
  it("64 concurrent calls raise no MaxListenersExceededWarning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on("warning", onWarning);
    onTestFinished(() => void process.off("warning", onWarning));
    const transport = await ours((r) =>
      r.service(MarketService, {
        async getQuote(req, ctx) {
          await sleep(20, ctx.signal);
          return { symbol: req.symbol };
        },
      }),
    );
    const client = createClient(MarketService, transport);
    await Promise.all(Array.from({ length: 64 }, (_, i) => client.getQuote({ symbol: `c${i}` })));
    await sleep(10);
    expect(warnings.filter((w) => w === "MaxListenersExceededWarning")).toEqual([]);
  });
});

describe("context values", () => {
  it("behave as connect-es's: defaults, set, delete, and they reach the handler through an interceptor", async () => {
    const { createContextKey } = await import("@connectrpc/connect");
    const { createCallValues } = await import("../../src/connect/context-values.js");
    const kUser = createContextKey("anonymous", { description: "user" });
    const values = createCallValues();
    expect(values.get(kUser)).toBe("anonymous");
    expect(values.set(kUser, "alice").get(kUser)).toBe("alice");
    expect(values.delete(kUser).get(kUser)).toBe("anonymous");

    for (const [, make] of TARGETS) {
      const seen: string[] = [];
      const interceptor: Interceptor = (next) => (req) => {
        req.contextValues.set(kUser, "bob");
        return next(req);
      };
      const transport = await make(
        (r) =>
          r.service(MarketService, {
            getQuote(req, ctx) {
              seen.push(ctx.values.get(kUser));
              return { symbol: req.symbol };
            },
          }),
        { server: [interceptor] },
      );
      await createClient(MarketService, transport).getQuote({ symbol: "V" });
      expect(seen).toEqual(["bob"]);
    }
  });
});
