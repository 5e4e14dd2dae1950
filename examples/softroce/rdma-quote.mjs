// A Connect server and client over rdma://, between the two soft-RoCE devices that
// `connect-rdma softroce run` provides: the server listens on SOFTROCE_SERVER_IP, the
// client leaves from SOFTROCE_CLIENT_IP (both addresses are local: a client that does
// not bind its source would talk to the server's device through itself). Prints one
// JSON line; exit 0 when every reply came back over RDMA.
//   npx connect-rdma softroce run -- node examples/softroce/rdma-quote.mjs
import { createClient } from "@connectrpc/connect";
import { createRdmaTransport, createServer } from "connect-rdma";

import { MarketService } from "../gen/market/v1/market_pb.js";

const serverIp = process.env.SOFTROCE_SERVER_IP;
const clientIp = process.env.SOFTROCE_CLIENT_IP;
if (!serverIp || !clientIp) {
  console.error("no soft-RoCE devices: run this under `npx connect-rdma softroce run -- node <this file>`");
  process.exit(2);
}

const server = createServer({
  routes: (router) =>
    router.service(MarketService, {
      async getQuote(request) {
        return { symbol: request.symbol, bid: 101.5, ask: 101.6, sequence: BigInt(request.symbol.length) };
      },
    }),
});
const url = await server.listen(`rdma://${serverIp}:0`);
const transport = createRdmaTransport({ url, localAddress: clientIp });
const client = createClient(MarketService, transport);
const quotes = [];
for (const symbol of ["ACME", "INITECH", "HOOLI"]) quotes.push(await client.getQuote({ symbol }));
const { callsStarted, framesIn } = transport.stats();
await transport.close();
await server.close();
console.log(
  JSON.stringify({
    mode: process.env.SOFTROCE_MODE,
    devices: [process.env.SOFTROCE_SERVER_DEVICE, process.env.SOFTROCE_CLIENT_DEVICE],
    url,
    quotes: quotes.map((q) => `${q.symbol} ${q.bid}/${q.ask} #${q.sequence}`),
    calls: callsStarted,
    framesIn,
  }),
);
