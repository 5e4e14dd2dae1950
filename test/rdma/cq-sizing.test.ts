// The RDMA engine's completion queue holds every completion its queue pairs can have
// outstanding: each queue pair reserves its receive depth plus its send queue, and the
// CQ grows past its initial 8192 entries (ibv_resize_cq) instead of overrunning (an
// overrun loses completions: slots and leases leak, connections hang). 24 connections of
// recvDepth 128 need 24 x (128 + 2 x 128 + 16) = 9600 entries on each side. Runs inside
// the soft-RoCE guest; skipped with the reason printed elsewhere.
import { afterEach, expect, it, vi } from "vitest";
import { RdmaEngine } from "../../src/channel/rdma-engine.js";
import type { Channel } from "../../src/channel/channel.js";
import { IP0, clientEngine, eventually, rdmaDescribe } from "./support/rdma-env.js";

vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

const engines: RdmaEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.close()));
});

rdmaDescribe("rdma completion queue sizing", () => {
  it("24 connections of recvDepth 128 grow the CQ past 8192 entries, and every one echoes", async () => {
    const recvDepth = 128;
    const connections = 24;
    const region = { slotSize: 4096, recvSlots: 4096, leaseBytes: 4 << 20 };
    const server = new RdmaEngine({ region, recvDepth });
    const client = clientEngine({ region, recvDepth });
    engines.push(client, server);
    const listener = await server.listen(`rdma://${IP0}:0`, (channel) => ({
      onFrame(frame) {
        const lease = channel.allocate(frame.byteLength);
        lease.bytes.set(frame);
        channel.send(lease);
      },
      onClose() {},
    }));
    const echoed: number[][] = Array.from({ length: connections }, () => []);
    const channels: Channel[] = [];
    for (let i = 0; i < connections; i++) {
      channels.push(await client.connect(listener.url, { onFrame: (frame) => echoed[i]!.push(...frame), onClose() {} }));
    }
    channels.forEach((channel, i) => {
      const lease = channel.allocate(2);
      lease.bytes.set([i, 255 - i]);
      channel.send(lease);
    });
    await eventually(() => echoed.every((bytes) => bytes.length === 2), "every connection's echo", 60_000);
    echoed.forEach((bytes, i) => expect(bytes).toEqual([i, 255 - i]));
    const needed = connections * (recvDepth + 2 * recvDepth + 16);
    for (const engine of [server, client]) {
      const stats = engine.stats();
      expect(stats.cqEntries).toBeGreaterThanOrEqual(needed);
      expect(stats.asyncErrors).toBe(0);
      expect(stats.sendFailures).toBe(0);
    }
  });
});
