// The channel suite (test/channel/channel-suite.ts) on the RDMA engine: the server
// listens on the first device (rdma://SOFTROCE_IP0:0), clients leave from the second
// (localAddress SOFTROCE_IP1), echo servers run in child processes. Zero copy on RDMA: a
// frame whose 8-byte message header plus body fits a receive slot arrives as a view of
// the region (slotSize - 8 bytes of body); one byte more moves by one RDMA READ into a
// lease (counted as the one reassembly). Runs inside the soft-RoCE guest; skipped with
// the reason printed elsewhere (test/rdma/support/rdma-env.ts).
import { vi } from "vitest";
import { channelSuite } from "../channel/channel-suite.js";
import { clientEngine, rdmaDescribe, rnrCountersStayZero, serverUrl } from "./support/rdma-env.js";

// QEMU TCG runs the guest 10-50x slower than hardware.
vi.setConfig({ testTimeout: 240_000, hookTimeout: 120_000 });

rdmaDescribe("rdma channel suite", () => {
  channelSuite({
    name: "rdma",
    engine: "rdma",
    distModules: ["channel", "region", "binding", "errors"],
    makeEngine: (options) => clientEngine(options),
    url: serverUrl,
    zeroCopy: {
      inPlaceBody: (region) => region.slotSize - 8,
      inPlaceInRegion: true,
      straddleBody: (region) => region.slotSize - 7,
    },
    skip: {
      peers:
        "the misbehaving peer is a raw node:net TCP socket that stops mid-frame; RDMA has no byte stream to cut, " +
        "and a peer process dying mid-stream is tested in test/rdma/peer-death.test.ts",
    },
    // Every small frame crosses soft-RoCE inside QEMU TCG (a few thousand round trips a
    // second): fewer of them, same checks. The 80 x 1 MiB pipeline stays (about 10 s).
    load: { backToBackFrames: 20_000 },
  });
  rnrCountersStayZero();
});
