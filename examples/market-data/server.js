// The market-data server: MarketService.Subscribe streams quotes of the requested
// symbols from one shared QuoteFeed (fan-out: every subscriber of a symbol gets each of
// its ticks), GetQuote returns the latest quote. Runs as a child of main.js, or alone:
//   node examples/market-data/server.js tcp://0.0.0.0:7001      (or rdma://<device ip>:7001)
import { autoEngine, createServer } from "connect-rdma";

import { MarketService } from "../gen/market/v1/market_pb.js";
import { serveFromParent } from "../lib/server-child.js";
import { QuoteFeed } from "./feed.js";

export const SYMBOLS = ["ACME", "GLOBX", "INITECH", "UMBRL", "WAYNE", "STARK", "OSCORP", "TYRELL"];

/** The server and its feed; call server.listen(url). */
export function createMarketDataServer({ intervalMs = 1 } = {}) {
  const feed = new QuoteFeed(SYMBOLS, { intervalMs });
  const server = createServer({
    routes: (router) =>
      router.service(MarketService, {
        getQuote(request) {
          return feed.latest(request.symbol) ?? { symbol: request.symbol };
        },
        async *subscribe(request, context) {
          const subscription = feed.subscribe(request.symbols, { payloadBytes: request.payloadBytes });
          // The client went away (or the server is closing): stop feeding this stream.
          const onAbort = () => subscription.close();
          context.signal.addEventListener("abort", onAbort, { once: true });
          try {
            let sent = 0;
            for await (const quote of subscription) {
              yield quote;
              if (request.count > 0 && ++sent >= request.count) return;
            }
          } finally {
            context.signal.removeEventListener("abort", onAbort);
            subscription.close();
          }
        },
      }),
  });
  return { server, feed };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.send) {
    serveFromParent(async (url) => {
      const { server, feed } = createMarketDataServer();
      const bound = await server.listen(url);
      return {
        url: bound,
        engine: url.startsWith("rdma://") ? "rdma" : autoEngine().engine,
        async stop() {
          feed.close();
          await server.close();
          return { stats: server.stats() };
        },
      };
    });
  } else {
    const { server } = createMarketDataServer();
    console.log(`market data on ${await server.listen(process.argv[2] ?? "tcp://127.0.0.1:7001")} (Ctrl-C stops)`);
    process.once("SIGINT", () => server.close().then(() => process.exit(0)));
  }
}
