// A completion-queue error reported by the device (IBV_EVENT_CQ_ERR: an overrun, so
// completions were lost) fails every connection on that device with EIO, counted in
// stats.asyncErrors, and their peers see the end (issue 20 item 9). A device reports it
// only when it really lost completions, which a test cannot arrange without breaking the
// sizing the engine does to prevent it: the addon's test-only fault point "rdma.cq_error"
// (native/common/fault_injection.h) makes the next check of a device's async events find
// it. The two engines of this test share the process and so the fault point: whichever
// reaps first takes the event, and the test checks that side and its peer. Runs inside the
// soft-RoCE guest; skipped with the reason printed elsewhere.
import { afterEach, expect, it, vi } from "vitest";
import { native } from "../../src/binding.js";
import { RdmaEngine } from "../../src/channel/rdma-engine.js";
import { clientEngine, eventually, rdmaDescribe, serverUrl } from "./support/rdma-env.js";
import { listenRecorded, recordedEnd, sendFrame } from "./support/recorded-end.js";

// QEMU TCG runs the guest 10-50x slower than hardware.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const engines: RdmaEngine[] = [];
afterEach(async () => {
  native().faultPoint("rdma.cq_error", 0);
  await Promise.all(engines.splice(0).map((engine) => engine.close()));
});

rdmaDescribe("rdma completion queue error", () => {
  it("IBV_EVENT_CQ_ERR fails every connection on the device with EIO, counted; the peers see the end", async () => {
    const server = new RdmaEngine();
    const client = clientEngine();
    engines.push(client, server);
    const { url, accepted } = await listenRecorded(server, serverUrl());
    const connected = [recordedEnd(), recordedEnd()];
    const channels = [await client.connect(url, connected[0]!.events), await client.connect(url, connected[1]!.events)];
    for (const channel of channels) sendFrame(channel, 64);
    await eventually(() => accepted.length === 2 && accepted.every((a) => a.frames.length === 1), "both connections carried a frame");
    expect(server.stats().asyncErrors).toBe(0);
    expect(client.stats().asyncErrors).toBe(0);

    native().faultPoint("rdma.cq_error", 1);
    for (const channel of channels) sendFrame(channel, 64); // completions on both sides: the next reap checks
    await eventually(() => native().faultPoint("rdma.cq_error") === 1, "a device reported the CQ error");

    const serverTook = server.stats().asyncErrors > 0;
    const [failed, peers, failedEngine] = serverTook ? [accepted, connected, server] : [connected, accepted, client];
    await eventually(() => failed.every((f) => f.closed), "every connection of the reporting engine closed");
    expect(failedEngine.stats().asyncErrors).toBe(2);
    expect(failed.map((f) => f.error?.code)).toEqual(["EIO", "EIO"]);
    await eventually(() => peers.every((p) => p.closed), "the peers saw the ends");
    // The server's listener stays open and counts in `active`.
    const listeners = serverTook ? 1 : 0;
    await eventually(() => failedEngine.stats().active === listeners, "the failed connections were freed");
    await eventually(() => failedEngine.stats().region.leaseBytesInUse === 0, "every lease came back");
  });
});
