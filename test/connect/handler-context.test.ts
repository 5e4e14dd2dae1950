// The server's HandlerContext (src/connect/handler-context.ts): a class instance with own,
// enumerable properties where connect-es has them, so a handler that spreads or lists
// its context sees what it would see in connect-node; the signal is made on first read,
// and response metadata nobody set is sent as an empty block.

import { Code, ConnectError, createContextKey } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { CallSignal } from "../../src/connect/call-signal.js";
import { createCallContext, responseHeaderOf, responseTrailerOf } from "../../src/connect/handler-context.js";
import { MarketService } from "../gen/market/v1/market_pb.js";

const method = MarketService.method.getQuote;

function context(timeoutMs?: number): { ctx: ReturnType<typeof createCallContext>; signal: CallSignal } {
  const signal = new CallSignal(undefined, timeoutMs);
  const requestHeader = new Headers({ "x-trace": "t-1" });
  const ctx = createCallContext({ method, url: "tcp://127.0.0.1:1/x", timeoutMs, requestHeader, signal });
  return { ctx, signal };
}

describe("createCallContext", () => {
  it("has connect-es's fields as own enumerable properties, accessors included", () => {
    const { ctx, signal } = context();
    expect(Object.keys(ctx)).toEqual([
      "method",
      "service",
      "protocolName",
      "requestMethod",
      "url",
      "timeoutMs",
      "requestHeader",
      "values",
      "responseHeader",
      "responseTrailer",
      "signal",
    ]);
    expect(ctx.method).toBe(method);
    expect(ctx.service).toBe(MarketService);
    expect(ctx.requestMethod).toBe("POST");
    expect(ctx.requestHeader.get("x-trace")).toBe("t-1");
    // A spread copy keeps the signal and the (same) response metadata objects.
    const copy = { ...ctx };
    expect(copy.signal).toBeInstanceOf(AbortSignal);
    expect(copy.signal).toBe(ctx.signal);
    expect(copy.responseHeader).toBe(ctx.responseHeader);
    expect(copy.responseTrailer).toBe(ctx.responseTrailer);
    signal.finish();
  });

  it("sends response headers and trailers only when something was set", () => {
    const { ctx, signal } = context();
    expect(responseHeaderOf(ctx)).toBeUndefined();
    expect(responseTrailerOf(ctx)).toBeUndefined();
    void ctx.responseHeader.get("x-a"); // reading is not setting: still nothing to send
    expect(responseHeaderOf(ctx)).toBeUndefined();
    ctx.responseHeader.set("x-a", "1");
    expect(responseHeaderOf(ctx)?.get("x-a")).toBe("1");
    expect(ctx.responseHeader).toBe(responseHeaderOf(ctx));
    expect(responseTrailerOf(ctx)).toBeUndefined();
    ctx.responseTrailer.append("x-b", "2");
    expect(responseTrailerOf(ctx)?.get("x-b")).toBe("2");
    signal.finish();
  });

  it("reports the time left and aborts its signal with the call", () => {
    const none = context();
    expect(none.ctx.timeoutMs()).toBeUndefined();
    none.signal.finish();
    const { ctx, signal } = context(60_000);
    const left = ctx.timeoutMs() as number;
    expect(left).toBeGreaterThan(59_000);
    expect(left).toBeLessThanOrEqual(60_000);
    const aborted = ctx.signal;
    expect(aborted.aborted).toBe(false);
    signal.abort(new ConnectError("gone", Code.Canceled));
    expect(aborted.aborted).toBe(true);
    expect(ConnectError.from(aborted.reason).code).toBe(Code.Canceled);
  });

  it("keeps separate state per call", () => {
    const a = context();
    const b = context();
    a.ctx.responseHeader.set("x-a", "1");
    const key = createContextKey(0);
    a.ctx.values.set(key, 1);
    expect(responseHeaderOf(b.ctx)).toBeUndefined();
    expect(a.ctx.values.get(key)).toBe(1);
    expect(b.ctx.values.get(key)).toBe(0);
    a.signal.finish();
    b.signal.finish();
  });
});
