// The Connect transport suite (test/connect/transport-suite.ts) over rdma://: servers
// listen on the first device (SOFTROCE_IP0), clients are createRdmaTransport() leaving
// from the second (localAddress SOFTROCE_IP1), and the raw-frame tests connect the same
// way. Runs inside the soft-RoCE guest; skipped with the reason printed elsewhere.
import { vi } from "vitest";
import { createRdmaTransport } from "../../src/index.js";
import { transportSuite } from "../connect/transport-suite.js";
import { IP1, rdmaDescribe, rnrCountersStayZero, serverUrl } from "./support/rdma-env.js";

// QEMU TCG runs the guest 10-50x slower than hardware.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

rdmaDescribe("rdma transport suite", () => {
  transportSuite("rdma", {
    listenUrl: serverUrl,
    createTransport: ({ engine, ...options }) => {
      if (typeof engine === "object") return createRdmaTransport({ ...options, engine, localAddress: IP1 });
      return createRdmaTransport({ ...options, localAddress: IP1 });
    },
    rawEngineOptions: () => ({ localAddress: IP1 }),
  });
  rnrCountersStayZero();
});
