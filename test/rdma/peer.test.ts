// What a handler knows about its peer over rdma:// (docs/SECURITY.md, "Who is the peer"):
// the client's IP and port as rdma_cm reports the route's destination address, read once
// when the connection is established; and the client's channel knows the server's.
// Runs inside the soft-RoCE guest; skipped with the reason printed elsewhere.
import { createClient } from "@connectrpc/connect";
import { afterEach, expect, it, vi } from "vitest";
import { createRdmaTransport, createServer, peerKey } from "../../src/index.js";
import type { Peer } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { IP1, clientEngine, rdmaDescribe, serverUrl } from "./support/rdma-env.js";

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

rdmaDescribe("rdma peer", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it("the handler sees rdma://<client ip>:<port>; the client's channel sees the server's URL", async () => {
    const seen: (Peer | undefined)[] = [];
    const server = createServer({
      allowUnprotected: true,
      routes: (router) =>
        router.service(MarketService, {
          getQuote: (req, ctx) => {
            seen.push(ctx.values.get(peerKey));
            return { symbol: req.symbol };
          },
        }),
    });
    cleanup.push(() => server.close(0));
    const url = await server.listen(serverUrl());
    const engine = clientEngine({ localAddress: IP1 });
    cleanup.push(() => engine.close());
    const transport = createRdmaTransport({ url, engine, localAddress: IP1 });
    cleanup.push(() => transport.close());
    await createClient(MarketService, transport).getQuote({ symbol: "ACME" });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.engine).toBe("rdma");
    expect(seen[0]!.address).toMatch(new RegExp(`^rdma://${IP1.replace(/\./g, "\\.")}:\\d+$`));
    expect(seen[0]!.credentials).toBeUndefined();

    const channel = await engine.connect(url, { onFrame: () => undefined, onClose: () => undefined });
    expect(channel.peer?.address).toBe(url);
    channel.close();
  });
});
