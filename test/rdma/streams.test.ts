// Many calls on RDMA connections: 64 concurrent streams multiplexed on one queue pair
// (server streams and bidi streams, small messages by SEND and large ones by READ,
// every message checked in order and byte for byte), and clients from both devices: a
// server listening on the wildcard address serves a client bound to rxe0 and one bound
// to rxe1 at the same time, and the kernel's own view of the rdma_cm ids (`rdma res
// show cm_id`) proves each client left from the device its address belongs to.
// Runs inside the soft-RoCE guest; skipped with the reason printed elsewhere.
import { execFileSync } from "node:child_process";
import { createClient } from "@connectrpc/connect";
import { afterEach, expect, it, vi } from "vitest";
import { RdmaEngine } from "../../src/channel/rdma-engine.js";
import { createRdmaTransport, createServer } from "../../src/index.js";
import type { Server } from "../../src/index.js";
import { pushable } from "../connect/transport-suite.js";
import { ServerLog, marketRoutes, pattern } from "../connect/market-service.js";
import { MarketService } from "../gen/market/v1/market_pb.js";
import { IP0, IP1, rdmaDescribe, rnrCountersStayZero, serverUrl, within } from "./support/rdma-env.js";

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

/** One rdma_cm id as iproute2 prints it: `"src-addr": "10.77.0.1:56023"` (address:port). */
interface CmId {
  ifname?: string;
  pid?: number;
  state?: string;
  "src-addr"?: string;
  "dst-addr"?: string;
}

/** The kernel's rdma_cm ids of this process (iproute2 `rdma -j res show cm_id`). */
function cmIds(): CmId[] {
  const out = execFileSync("rdma", ["-j", "res", "show", "cm_id"], { encoding: "utf8" });
  return (JSON.parse(out) as CmId[]).filter((id) => id.pid === process.pid);
}

/** "10.77.0.1:56023" -> ["10.77.0.1", 56023]. */
function hostPort(address: string | undefined): [string, number] | undefined {
  const match = address === undefined ? null : /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  return match ? [match[1]!, Number(match[2])] : undefined;
}

rdmaDescribe("rdma streams and devices", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function serve(url: string, engine?: RdmaEngine): Promise<{ server: Server; url: string }> {
    const server = createServer({ routes: marketRoutes(new ServerLog()), allowUnprotected: true, ...(engine ? { engine } : {}) });
    cleanup.push(() => server.close(0));
    return { server, url: await server.listen(url) };
  }

  it("64 concurrent streams share one connection: every message arrives, in order, byte for byte", async () => {
    const { server, url } = await serve(serverUrl());
    const engine = new RdmaEngine({ localAddress: IP1 });
    cleanup.push(() => engine.close());
    const transport = createRdmaTransport({ url, engine, localAddress: IP1 });
    cleanup.push(() => transport.close());
    const client = createClient(MarketService, transport);
    const slot = engine.region.slotSize;
    const count = 12;

    const streams = Array.from({ length: 48 }, async (_, s) => {
      // Every 8th stream carries messages larger than a receive slot (one READ each).
      const payloadBytes = s % 8 === 0 ? slot + 1000 : 200 + s;
      const got: string[] = [];
      for await (const q of client.subscribe({ symbols: [`S${s}`], count, payloadBytes })) {
        const i = Number(q.sequence);
        const ok = q.symbol === `S${s}` && q.venuePayload.byteLength === payloadBytes && Buffer.from(q.venuePayload).equals(Buffer.from(pattern(payloadBytes, i)));
        got.push(ok ? `#${i}` : `#${i} wrong`);
      }
      expect(got).toEqual(Array.from({ length: count }, (_, i) => `#${i + 1}`));
    });
    const bidis = Array.from({ length: 16 }, async (_, b) => {
      const input = pushable<{ clientOrderId: string; symbol: string; quantity: bigint; signature: Uint8Array }>();
      const acks = client.trade(input)[Symbol.asyncIterator]();
      const seen: bigint[] = [];
      for (let i = 1; i <= count; i++) {
        const signature = pattern(b % 4 === 0 ? slot + 10 : 64, b * 1000 + i);
        input.push({ clientOrderId: `b${b}-${i}`, symbol: "RDMA", quantity: BigInt(i), signature });
        const ack = await acks.next();
        expect(ack.done).toBe(false);
        expect(Buffer.from(ack.value!.signatureEcho).equals(Buffer.from(signature))).toBe(true);
        seen.push(ack.value!.sequence);
      }
      input.end();
      expect((await acks.next()).done).toBe(true);
      expect(seen).toEqual(Array.from({ length: count }, (_, i) => BigInt(i + 1)));
    });
    await within(Promise.all([...streams, ...bidis]), 120_000, "64 streams to finish");

    expect(transport.stats().connections).toBe(1);
    expect(server.stats().callsStarted).toBe(64);
    expect(transport.stats().callsActive).toBe(0);
    // The large messages crossed by READ: 6 server streams x 12 replies, 4 bidi streams x 12 requests.
    expect(engine.stats().reads).toBeGreaterThanOrEqual(6 * count);
    const keys = engine.stats();
    expect(keys.keysGranted).toBeGreaterThanOrEqual(4 * count);
  });

  it("clients bound to rxe0 and to rxe1 are served at once by a wildcard listener, each from its own device", async () => {
    const { url } = await serve("rdma://0.0.0.0:0");
    const port = Number(new URL(url.replace(/^rdma:/, "http:")).port);
    expect(port).toBeGreaterThan(0);
    // Each client talks to the server's address on the other device, across the veth pair.
    const routes = [
      { localAddress: IP0, remote: IP1 },
      { localAddress: IP1, remote: IP0 },
    ];
    const clients = routes.map(({ localAddress, remote }) => {
      const transport = createRdmaTransport({ url: `rdma://${remote}:${port}`, localAddress });
      cleanup.push(() => transport.close());
      return { localAddress, remote, transport, client: createClient(MarketService, transport) };
    });

    await within(
      Promise.all(
        clients.map(async ({ localAddress, client }, c) => {
          for (let i = 0; i < 20; i++) {
            const payload = pattern(i % 5 === 0 ? 40_000 : 500, c * 100 + i);
            const q = await client.getQuote({ symbol: `${localAddress}-${i}`, payload });
            expect(q.symbol).toBe(`${localAddress}-${i}`);
            expect(Buffer.from(q.venuePayload).equals(Buffer.from(payload))).toBe(true);
          }
        }),
      ),
      60_000,
      "calls from both devices",
    );

    // Both connections are open now: ask the kernel which device each client's cm_id uses.
    const ids = cmIds();
    for (const { localAddress, remote } of clients) {
      const mine = ids.filter((id) => {
        const [src, dst] = [hostPort(id["src-addr"]), hostPort(id["dst-addr"])];
        return src?.[0] === localAddress && dst?.[0] === remote && dst[1] === port;
      });
      expect(mine.map((id) => id.ifname), `cm_id ${localAddress} -> ${remote}:${port} in ${JSON.stringify(ids)}`).toEqual([
        localAddress === IP0 ? (process.env.SOFTROCE_DEV0 ?? "rxe0") : (process.env.SOFTROCE_DEV1 ?? "rxe1"),
      ]);
    }
    for (const { transport } of clients) expect(transport.stats().connections).toBe(1);
  });

  rnrCountersStayZero();
});
