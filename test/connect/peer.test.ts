// The handler's view of its peer (src/connect/peer.ts): one frozen Peer per connection in
// every call's ctx.values under peerKey, seen by interceptors, handlers and the server's
// contextValues option alike.
import { createClient, createContextValues } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";
import { describe, expect, it, onTestFinished } from "vitest";

import { createMemoryEngine, createServer, createUringTransport, peerKey } from "../../src/index.js";
import type { Peer } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";

let served = 0;

describe("peerKey", () => {
  it("gives every call of a connection the same Peer, in interceptors, handlers and contextValues", async () => {
    const inHandler: (Peer | undefined)[] = [];
    const inInterceptor: (Peer | undefined)[] = [];
    const inContextValues: Peer[] = [];
    const interceptor: Interceptor = (next) => (req) => {
      inInterceptor.push(req.contextValues.get(peerKey));
      return next(req);
    };
    const server = createServer({
      interceptors: [interceptor],
      contextValues: (req) => {
        inContextValues.push(req.peer);
        return createContextValues();
      },
      routes: (router) =>
        router.service(MarketService, {
          getQuote: (req, ctx) => {
            inHandler.push(ctx.values.get(peerKey));
            return { symbol: req.symbol };
          },
        }),
    });
    onTestFinished(() => server.close(0));
    const url = await server.listen(`memory://peer-${process.pid}-${served++}`);
    const engine = createMemoryEngine();
    onTestFinished(() => engine.close());
    const first = createUringTransport({ url, engine });
    onTestFinished(() => first.close());
    const second = createUringTransport({ url, engine });
    onTestFinished(() => second.close());

    await createClient(MarketService, first).getQuote({ symbol: "a" });
    await createClient(MarketService, first).getQuote({ symbol: "b" });
    await createClient(MarketService, second).getQuote({ symbol: "c" });

    expect(inHandler).toHaveLength(3);
    const [a, b, c] = inHandler;
    expect(a?.engine).toBe("memory");
    expect(Object.isFrozen(a)).toBe(true);
    expect(b).toBe(a); // one Peer per connection
    expect(c).not.toBe(a); // another connection, another Peer
    expect(c?.engine).toBe("memory");
    expect(inInterceptor).toEqual(inHandler);
    expect(inContextValues).toEqual(inHandler);
  });

  it("is undefined outside a server call", () => {
    expect(peerKey.defaultValue).toBeUndefined();
  });
});
