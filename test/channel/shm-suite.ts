// The shm:// engine as the channel suite and the transport suite see it: fresh rendezvous
// URLs, the engine factory, and why it cannot run here (if it cannot).

import { tmpdir } from "node:os";
import { native } from "../../src/binding.js";
import { ShmEngine } from "../../src/channel/shm-engine.js";
import type { ChannelSuiteOptions } from "./channel-suite.js";

/** Rings big enough for the suite's 16 MiB frames (a frame must fit half a ring). */
export const SUITE_RING_BYTES = 64 * 1024 * 1024;

let sockets = 0;

/** A fresh shm:// rendezvous URL. */
export function shmUrl(): string {
  return `shm://${tmpdir()}/crdma-shm-${process.pid}-${++sockets}.sock`;
}

/** Why the shm engine cannot run here, or undefined. */
export function shmUnavailable(): string | undefined {
  try {
    const shm = native().capabilities().shm;
    return shm.available ? undefined : `shm unavailable: ${shm.reason ?? "no reason given"}`;
  } catch (error) {
    return `native addon not loadable: ${(error as Error).message}`;
  }
}

/** Suite options for the shm engine. */
export function shmSuite(): ChannelSuiteOptions {
  return {
    name: "shm",
    engine: "shm",
    distModules: ["channel", "region", "binding", "errors"],
    makeEngine: (options) => new ShmEngine({ ringBytes: SUITE_RING_BYTES, ...options }),
    serverOptions: { ringBytes: SUITE_RING_BYTES },
    url: shmUrl,
    unavailable: shmUnavailable,
    zeroCopy: {
      // Every frame is read in place, in the connection's own mapping (not the engine's region).
      inPlaceBody: () => 1024,
      inPlaceInRegion: false,
    },
    skip: {
      peers:
        "the raw node:net peers speak the byte-stream framing of tcp:// and unix://; shm peers that break the ring rules are in test/hostile/shm-ring.test.ts",
    },
  };
}
