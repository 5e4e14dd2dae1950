// The engines the channel suite runs against, as ChannelSuiteOptions factories, and
// fresh listen URLs for both transports.

import { tmpdir } from "node:os";
import { native } from "../../src/binding.js";
import { NetEngine } from "../../src/channel/net-engine.js";
import { UringEngine } from "../../src/channel/uring-engine.js";
import type { ChannelSuiteOptions } from "./channel-suite.js";

let sockets = 0;

/** A listen URL of the transport: tcp on an ephemeral port, unix on a fresh path. */
export function listenUrl(transport: "tcp" | "unix"): string {
  return transport === "tcp" ? "tcp://127.0.0.1:0" : `unix://${tmpdir()}/crdma-test-${process.pid}-${++sockets}.sock`;
}

/** Suite options for the node:net engine. */
export function netSuite(transport: "tcp" | "unix"): ChannelSuiteOptions {
  return {
    name: `net-${transport}`,
    engine: "net",
    distModules: ["channel", "region", "binding", "errors"],
    makeEngine: (options) => new NetEngine(options),
    url: () => listenUrl(transport),
    zeroCopy: {
      // node:net reads up to 64 KiB per chunk: 1 KiB arrives inside one chunk, 1 MiB never does.
      inPlaceBody: () => 1024,
      inPlaceInRegion: false,
      straddleBody: () => 1024 * 1024,
    },
  };
}

/** Why io_uring cannot run here, or undefined. */
export function uringUnavailable(): string | undefined {
  try {
    const uring = native().capabilities().ioUring;
    return uring.available ? undefined : `io_uring unavailable: ${uring.reason ?? "no reason given"}`;
  } catch (error) {
    return `native addon not loadable: ${(error as Error).message}`;
  }
}

/** Suite options for the io_uring engine. */
export function uringSuite(transport: "tcp" | "unix"): ChannelSuiteOptions {
  return {
    name: `uring-${transport}`,
    engine: "uring",
    distModules: ["channel", "region", "binding", "errors"],
    makeEngine: (options) => new UringEngine(options),
    url: () => listenUrl(transport),
    unavailable: uringUnavailable,
    zeroCopy: {
      // A frame takes 4 header bytes + body in a receive slot.
      inPlaceBody: (region) => region.slotSize - 4,
      inPlaceInRegion: true,
      straddleBody: (region) => region.slotSize - 3,
    },
  };
}
