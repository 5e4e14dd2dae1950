// Size errors name the option that set the limit and where it came from (issue 19 item 8):
// this side's own configuration ("configured writeMaxBytes / readMaxBytes", connect-es's
// words) or the peer's handshake ("the peer's readMaxBytes … (announced in its
// handshake)", "the server's / client's maxHeaderBytes … (announced in its handshake)").
import { Code, createClient } from "@connectrpc/connect";
import type { ConnectError } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";

import { createMemoryEngine, createServer, createUringTransport } from "../../src/index.js";
import type { ServerOptions, UringTransportOptions } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { ServerLog, marketRoutes } from "./market-service.js";

let served = 0;

async function clientOf(server: Partial<ServerOptions>, transport: Partial<UringTransportOptions> = {}) {
  const s = createServer({ routes: marketRoutes(new ServerLog()), ...server });
  onTestFinished(() => s.close(0));
  const url = await s.listen(`memory://limit-messages-${process.pid}-${served++}`);
  const engine = createMemoryEngine();
  onTestFinished(() => engine.close());
  const t = createUringTransport({ url, engine, ...transport });
  onTestFinished(() => t.close());
  return createClient(MarketService, t);
}

async function errorOf(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => {
      throw new Error("the call succeeded");
    },
    (e: ConnectError) => e,
  );
}

describe("size errors name their limit's source", () => {
  it("this side's writeMaxBytes: 'configured'", async () => {
    const client = await clientOf({}, { writeMaxBytes: 1000 });
    const e = await errorOf(client.getQuote({ symbol: "A", payload: new Uint8Array(2000) }));
    expect(e.code).toBe(Code.ResourceExhausted);
    expect(e.rawMessage).toMatch(/^message size \d+ is larger than configured writeMaxBytes 1000$/);
  });

  it("the server's readMaxBytes: the peer's, announced in its handshake", async () => {
    const client = await clientOf({ readMaxBytes: 1000 });
    await client.getQuote({ symbol: "warm" }); // the handshake is done: the server's limit is known
    const e = await errorOf(client.getQuote({ symbol: "A", payload: new Uint8Array(2000) }));
    expect(e.code).toBe(Code.ResourceExhausted);
    expect(e.rawMessage).toMatch(/^message size \d+ is larger than the peer's readMaxBytes 1000 \(announced in its handshake\)$/);
  });

  it("the server's maxHeaderBytes: named, announced in its handshake", async () => {
    const client = await clientOf({ maxHeaderBytes: 1024 });
    await client.getQuote({ symbol: "warm" });
    const e = await errorOf(client.getQuote({ symbol: "A" }, { headers: { "x-big": "v".repeat(4096) } }));
    expect(e.code).toBe(Code.ResourceExhausted);
    expect(e.rawMessage).toMatch(/^request headers of \d+ bytes exceed the server's maxHeaderBytes 1024 \(announced in its handshake\)$/);
  });

  it("the client's maxHeaderBytes for response headers: named, announced in its handshake", async () => {
    const client = await clientOf(
      {
        routes: (router) =>
          router.service(MarketService, {
            getQuote: (req, ctx) => {
              ctx.responseHeader.set("x-big", "v".repeat(4096));
              return { symbol: req.symbol };
            },
          }),
      },
      { maxHeaderBytes: 1024 },
    );
    const e = await errorOf(client.getQuote({ symbol: "A" }));
    expect(e.code).toBe(Code.ResourceExhausted);
    expect(e.rawMessage).toMatch(/exceed the client's maxHeaderBytes 1024 \(announced in its handshake\)/);
  });
});
