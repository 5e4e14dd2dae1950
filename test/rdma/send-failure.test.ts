// A refused ibv_post_send closes its connection: the frame cannot be sent and its credit is
// spent, so the two sides are out of step. The engine closes the connection with the
// error (onClose gets ENOMEM), counts it in stats.sendFailures, and the peer sees the
// connection end; it used to drop the frame silently and leave the connection open. The
// refusal comes from the addon's test-only fault point "rdma.post_send"
// (native/common/fault_injection.h): the device refuses only when its send queue is full
// or it is out of memory, which a test cannot arrange. Runs inside the soft-RoCE guest;
// skipped with the reason printed elsewhere.
import { afterEach, expect, it, vi } from "vitest";
import { native } from "../../src/binding.js";
import { RdmaEngine } from "../../src/channel/rdma-engine.js";
import { clientEngine, eventually, rdmaDescribe, serverUrl } from "./support/rdma-env.js";
import { recordedEnd, sendFrame } from "./support/recorded-end.js";

// QEMU TCG runs the guest 10-50x slower than hardware.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const engines: RdmaEngine[] = [];
afterEach(async () => {
  native().faultPoint("rdma.post_send", 0);
  await Promise.all(engines.splice(0).map((engine) => engine.close()));
});

rdmaDescribe("rdma refused post_send", () => {
  it("closes the connection with the error and counts it; the frame never arrives and the peer sees the end", async () => {
    const server = new RdmaEngine();
    const client = clientEngine();
    engines.push(client, server);
    const accepted = recordedEnd();
    const listener = await server.listen(serverUrl(), () => accepted.events);
    const connected = recordedEnd();
    const channel = await client.connect(listener.url, connected.events);

    sendFrame(channel, [1, 2, 3]);
    await eventually(() => accepted.frames.length === 1, "the first frame arrived");
    native().faultPoint("rdma.post_send", 1); // the next post on this (idle) pair is the client's frame
    sendFrame(channel, [4, 5, 6]);

    await eventually(() => connected.closed, "the client's connection closed");
    expect(connected.error?.code).toBe("ENOMEM");
    expect(native().faultPoint("rdma.post_send")).toBe(1);
    expect(client.stats().sendFailures).toBe(1);
    expect(server.stats().sendFailures).toBe(0);
    await eventually(() => accepted.closed, "the server saw the connection end");
    expect(accepted.frames.map((frame) => [...frame])).toEqual([[1, 2, 3]]);
    await eventually(() => client.stats().active === 0, "the client's connection was freed");
  });
});
