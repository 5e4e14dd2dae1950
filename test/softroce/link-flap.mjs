// Runs under `connect-rdma softroce run --link-down-after TIME` (harness-check.mjs starts
// it): a Connect server and client over rdma:// between the two soft-RoCE devices, one
// server stream open and unary calls going when the harness takes the link down. Reports
// (one LINK_FLAP {json} line) how each call ended and how long after the link went down:
// the stream, the unary calls in flight and a call started after the flap must all end
// with an error (Unavailable expected) in bounded time, and nothing may hang.
// With LINK_FLAP_SELF=1 (npm test's quick run: the harness's --link-down-after is a time,
// and under TCG a program's first call comes 20-90 s after it starts) the program takes
// the client netdev down itself, once calls and quotes went through.
import { execFileSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { readFileSync } from "node:fs";

import { ConnectError, createClient } from "@connectrpc/connect";

import { createRdmaTransport, createServer } from "../../dist/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";

const BOUND_MS = 60_000;
const netdev = process.env.SOFTROCE_CLIENT_NETDEV;
const report = { firstCallMs: undefined, downAfterMs: undefined, stream: undefined, unary: undefined, after: undefined, callsBefore: 0, quotesBefore: 0 };
const started = performance.now();
const since = () => Math.round(performance.now() - started);
const linkUp = () => readFileSync(`/sys/class/net/${netdev}/operstate`, "utf8").trim() === "up";
const outcome = (error) => ({ code: error instanceof ConnectError ? ConnectError.from(error).code : undefined, message: String(error?.message ?? error).slice(0, 200) });
/** Resolves when the link has been seen down (the main loop below watches it). */
let sawDown;
const down = new Promise((resolve) => (sawDown = resolve));
/** How `promise` ended: "hung" when it had not ended BOUND_MS after the link went down. */
const ended = (promise) =>
  Promise.race([
    promise.then(
      () => ({ result: "ok", atMs: since() }),
      (error) => ({ result: "error", atMs: since(), ...outcome(error) }),
    ),
    down.then(() => sleep(BOUND_MS)).then(() => ({ result: "hung", atMs: since() })),
  ]);

const server = createServer({
  routes: (router) =>
    router.service(MarketService, {
      async getQuote(request) {
        return { symbol: request.symbol, bid: 1, ask: 2 };
      },
      async *subscribe(request, context) {
        for (let sequence = 0n; !context.signal.aborted; sequence++) {
          yield { symbol: request.symbols[0] ?? "ACME", sequence };
          await sleep(20);
        }
      },
    }),
});
const url = await server.listen(`rdma://${process.env.SOFTROCE_SERVER_IP}:0`);
// Keepalive: a connection that only waits to receive cannot see a dead link by itself
// (RC queue pairs report it on a send); a PING after 1 s of silence is that send.
const transport = createRdmaTransport({ url, localAddress: process.env.SOFTROCE_CLIENT_IP, keepaliveMs: 1000, keepaliveTimeoutMs: 5000 });
const client = createClient(MarketService, transport);

const stream = ended(
  (async () => {
    for await (const _ of client.subscribe({ symbols: ["ACME"] })) if (linkUp()) report.quotesBefore++;
  })(),
);
const unary = ended(
  (async () => {
    for (;;) {
      await client.getQuote({ symbol: "ACME" });
      report.firstCallMs ??= since();
      if (linkUp()) report.callsBefore++;
      await sleep(10);
    }
  })(),
);
const self = process.env.LINK_FLAP_SELF === "1";
while (linkUp() && since() < (self ? 4 * BOUND_MS : BOUND_MS)) {
  if (self && report.callsBefore >= 3 && report.quotesBefore >= 3) execFileSync("ip", ["link", "set", "dev", netdev, "down"]);
  await sleep(5);
}
report.downAfterMs = linkUp() ? undefined : since();
sawDown();
report.stream = await stream;
report.unary = await unary;
report.after = await ended(client.getQuote({ symbol: "LATE" }));
await Promise.race([Promise.allSettled([transport.close(), server.close()]), sleep(10_000)]);
console.log(`LINK_FLAP ${JSON.stringify(report)}`);
process.exit(0);
