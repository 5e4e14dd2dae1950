// The client's unary call paths (src/connect/transport.ts, #unary): on a session with a
// free slot the call runs without an async frame and settles its own signal when no
// interceptor wraps it; under interceptors unary() settles it after them; before the
// connection is up the call waits for it and encodes its request again. Each path must
// leave the caller's AbortSignal without our listener once the call settled (success or
// error), and the connecting path must give its stream slot back when the request it
// encodes again fails (on a server taking one stream at a time, the next call would
// wait forever otherwise). Without interceptors no request object is made: headers the
// caller gave still arrive, and none arrive as none. Memory engine: no capability needed.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";
import { getEventListeners } from "node:events";
import { describe, expect, it, onTestFinished } from "vitest";
import { createServer, createUringTransport } from "../../src/index.js";
import { GetQuoteRequestSchema, MarketService } from "../gen/market/v1/market_pb.js";
import { ServerLog, marketRoutes } from "./market-service.js";

let n = 0;

async function setUp(options: { interceptors?: Interceptor[]; maxConcurrentStreams?: number; connect?: boolean; log?: ServerLog } = {}) {
  const server = createServer({
    routes: marketRoutes(options.log ?? new ServerLog()),
    ...(options.maxConcurrentStreams !== undefined ? { maxConcurrentStreams: options.maxConcurrentStreams } : {}),
  });
  onTestFinished(() => server.close(0));
  const url = await server.listen(`memory://unary-paths-${process.pid}-${++n}`);
  const transport = createUringTransport({ url, ...(options.interceptors !== undefined ? { interceptors: options.interceptors } : {}) });
  onTestFinished(() => transport.close());
  if (options.connect !== false) await transport.ping();
  return { transport, client: createClient(MarketService, transport) };
}

/** Makes a call with a caller's signal and a deadline; resolves with its outcome and the signal's abort listeners after it settled. */
async function callWithSignal(client: ReturnType<typeof createClient<typeof MarketService>>, symbol: string) {
  const controller = new AbortController();
  const outcome = await client.getQuote({ symbol }, { signal: controller.signal, timeoutMs: 60_000 }).then(
    (quote) => ({ quote, error: undefined }),
    (e: unknown) => ({ quote: undefined, error: ConnectError.from(e) }),
  );
  return { ...outcome, listeners: getEventListeners(controller.signal, "abort").length };
}

const countingInterceptor = (seen: string[]): Interceptor => (next) => async (req) => {
  seen.push(req.method.name);
  return next(req);
};

describe("unary call paths", () => {
  for (const variant of ["no interceptors", "an interceptor"] as const) {
    it(`on a session with a free slot, with ${variant}: success and error both release the caller's signal`, async () => {
      const seen: string[] = [];
      const { client } = await setUp(variant === "an interceptor" ? { interceptors: [countingInterceptor(seen)] } : {});
      const ok = await callWithSignal(client, "OK1");
      expect(ok.quote?.symbol).toBe("OK1");
      expect(ok.listeners).toBe(0);
      const failed = await callWithSignal(client, `FAIL:${Code.NotFound}`);
      expect(failed.error?.code).toBe(Code.NotFound);
      expect(failed.listeners).toBe(0);
      expect(seen).toEqual(variant === "an interceptor" ? ["GetQuote", "GetQuote"] : []);
    });
  }

  it("without interceptors, request headers go out as given (object, array, Headers) and none as an empty block", async () => {
    const log = new ServerLog();
    const { client } = await setUp({ log });
    await client.getQuote({ symbol: "H-NONE" });
    await client.getQuote({ symbol: "H-OBJECT" }, { headers: { "x-a": "1" } });
    await client.getQuote({ symbol: "H-ARRAY" }, { headers: [["x-b", "2"], ["x-b", "3"]] });
    await client.getQuote({ symbol: "H-HEADERS" }, { headers: new Headers({ "x-c": "\u00e9" }) });
    expect([...(log.headers.get("H-NONE") ?? [])]).toEqual([]);
    expect([...(log.headers.get("H-OBJECT") ?? [])]).toEqual([["x-a", "1"]]);
    expect(log.headers.get("H-ARRAY")?.get("x-b")).toBe("2, 3");
    expect(log.headers.get("H-HEADERS")?.get("x-c")).toBe("\u00e9");
  });

  it("a call made before the connection is up waits for it, then releases the caller's signal", async () => {
    const { client } = await setUp({ connect: false });
    const ok = await callWithSignal(client, "EARLY");
    expect(ok.quote?.symbol).toBe("EARLY");
    expect(ok.listeners).toBe(0);
  });

  it("a request that cannot be encoded once connected fails the call and gives its stream slot back", async () => {
    const { client, transport } = await setUp({ connect: false, maxConcurrentStreams: 1 });
    const request = create(GetQuoteRequestSchema, { symbol: "CHANGED" });
    const controller = new AbortController();
    const call = client.getQuote(request, { signal: controller.signal });
    // Encoded once already (valid); changed before the connection is up: encoded again then.
    request.responsePayloadBytes = -1;
    const error = ConnectError.from(await call.catch((e: unknown) => e));
    expect(error.message).toMatch(/responsePayloadBytes|response_payload_bytes|uint32/i);
    expect(getEventListeners(controller.signal, "abort").length).toBe(0);
    // The server takes one stream at a time: a slot kept by the failed call would stall this one.
    const next = await Promise.race([
      client.getQuote({ symbol: "AFTER" }).then((q) => q.symbol),
      new Promise<string>((resolve) => setTimeout(() => resolve("stalled"), 2_000)),
    ]);
    expect(next).toBe("AFTER");
    expect(transport.stats().callsActive).toBe(0);
  });
});
