// Authentication over rdma:// (docs/SECURITY.md): the handshake is the session's on every
// channel, so a matching key admits calls and the handler reads its key id, while a client
// without the key, or with another secret, fails with Unauthenticated and no handler runs.
// Runs inside the soft-RoCE guest; skipped with the reason printed elsewhere.
import { randomBytes } from "node:crypto";
import { Code, createClient } from "@connectrpc/connect";
import { expect, it, vi } from "vitest";
import { createRdmaTransport, createServer, peerKey } from "../../src/index.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import type { UringTransport } from "../../src/index.js";
import { IP1, clientEngine, eventually, rdmaDescribe, serverUrl } from "./support/rdma-env.js";

// QEMU TCG runs the guest 10-50x slower than hardware.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

const SECRET = new Uint8Array(randomBytes(32));

rdmaDescribe("rdma auth", () => {
  it("a matching key calls (the handler reads its key id); no key or another secret: Unauthenticated, nothing ran", async () => {
    let runs = 0;
    const server = createServer({
      auth: { keys: { k1: SECRET } },
      routes: (router) =>
        router.service(MarketService, {
          getQuote(req, ctx) {
            runs++;
            return { symbol: `${req.symbol}:${ctx.values.get(peerKey)?.keyId}` };
          },
        }),
    });
    const engine = clientEngine();
    const transports: UringTransport[] = [];
    try {
      const url = await server.listen(serverUrl());
      const call = (auth?: { keyId: string; secret: Uint8Array }): Promise<{ symbol: string }> => {
        const transport = createRdmaTransport({ url, engine, localAddress: IP1, ...(auth ? { auth } : {}) });
        transports.push(transport);
        return createClient(MarketService, transport).getQuote({ symbol: "q" });
      };
      await expect(call()).rejects.toMatchObject({ code: Code.Unauthenticated, rawMessage: expect.stringMatching(/server requires auth/) });
      await expect(call({ keyId: "k1", secret: new Uint8Array(randomBytes(32)) })).rejects.toMatchObject({ code: Code.Unauthenticated });
      expect(runs).toBe(0);
      expect((await call({ keyId: "k1", secret: SECRET })).symbol).toBe("q:k1");
      expect(runs).toBe(1);
      await eventually(() => server.stats().authFailures === 2, "both refusals counted");
    } finally {
      for (const t of transports) await t.close();
      await server.close(0);
      await engine.close();
    }
  });
});
