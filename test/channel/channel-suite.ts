// The channel suite: one set of tests of the channel contract (src/channel/channel.ts)
// that every engine and transport runs (uring-tcp, uring-unix, net-tcp, net-unix, rdma).
// Each *.test.ts file calls channelSuite() with a factory. The engine under test runs
// in the vitest process; echo servers and misbehaving peers run in child processes
// (test/fixtures/), so every echo crosses a real process boundary.
// Capability gating: when `unavailable()` names a reason the suite is skipped with that
// reason printed, except under CI=true, where the missing capability fails the suite.
// A part that cannot apply to an engine (a raw TCP peer against RDMA) is skipped only
// through `skip`, with its reason printed; `load` scales the long echo tests down for
// slow targets (RDMA under QEMU TCG) without changing what they check.

import { beforeAll, describe, it } from "vitest";
import type { ChannelEngine, ChannelStats } from "../../src/channel/channel.js";
import type { Region, RegionOptions } from "../../src/region.js";
import { contractTests } from "./contract-tests.js";
import { echoTests } from "./echo-tests.js";
import { peerTests } from "./peer-tests.js";
import { gatedDescribe } from "../support/capability-gate.js";
import { requireDist } from "./support/processes.js";

/** An engine as the suite sees it: the contract plus its region and counters. */
export interface SuiteEngine extends ChannelEngine {
  readonly region: Region;
  stats(): ChannelStats;
}

/** What the suite needs to know about the engine under test. */
export interface ChannelSuiteOptions {
  /** Suite name, e.g. "uring-tcp". */
  name: string;
  /** Engine name for the fixture processes (they load it from dist/). */
  engine: "uring" | "net" | "rdma" | "shm";
  /** Options of the echo server's engine (its process), when the defaults do not fit the tests. */
  serverOptions?: object;
  /** dist/ modules the fixtures import, checked for freshness before the suite runs. */
  distModules: string[];
  makeEngine(options?: { region?: RegionOptions; maxFrameBytes?: number }): SuiteEngine;
  /** A fresh listen URL (port 0, or a new unix socket path). */
  url(): string;
  /** Why the engine cannot run here, or undefined when it can. */
  unavailable?: () => string | undefined;
  zeroCopy: {
    /** Body length of a frame that arrives in place, without reassembly. */
    inPlaceBody(region: Region): number;
    /** True when such a frame is a view of the engine's region (uring, rdma), false for a socket chunk (net). */
    inPlaceInRegion: boolean;
    /**
     * Body length of a frame that straddles receive buffers (rdma: one READ): exactly one
     * reassembly. Absent for an engine that never reassembles (shm: every frame is read in place).
     */
    straddleBody?(region: Region): number;
  };
  /** Parts of the suite that cannot apply to this engine, each with the reason (printed). */
  skip?: Partial<Record<SuitePart, string>>;
  /**
   * Single tests this engine is known to fail, by a fragment of their title, each with the
   * reason (printed): a known bug stays visible in every run instead of turning CI red.
   */
  knownFailures?: Record<string, string>;
  /** Sizes of the long echo tests (defaults: 100,000 back-to-back frames, 80 pipelined 1 MiB frames). */
  load?: { backToBackFrames?: number; pipelinedMiB?: number };
}

/** The parts of the suite. */
export type SuitePart = "echo" | "contract" | "peers";

/** `it`, or a printed skip when the title names a known failure of this engine. */
export function itUnlessKnown(options: ChannelSuiteOptions) {
  return (title: string, fn: () => Promise<void> | void): void => {
    const known = Object.entries(options.knownFailures ?? {}).find(([fragment]) => title.includes(fragment));
    if (!known) {
      it(title, fn);
      return;
    }
    console.warn(`[known failure, skipped] ${options.name}: ${title}: ${known[1]}`);
    it.skip(`${title} (known failure: ${known[1]})`, fn);
  };
}

/** Defines the whole channel suite for one engine and transport. */
export function channelSuite(options: ChannelSuiteOptions): void {
  gatedDescribe(options.name, options.unavailable?.(), () => {
    beforeAll(() => requireDist(options.distModules));
    part(options, "echo", echoTests);
    part(options, "contract", contractTests);
    part(options, "peers", peerTests);
  });
}

function part(options: ChannelSuiteOptions, name: SuitePart, define: (options: ChannelSuiteOptions) => void): void {
  const reason = options.skip?.[name];
  if (reason === undefined) {
    define(options);
    return;
  }
  console.warn(`[skip] ${options.name} ${name} tests: ${reason}`);
  describe.skip(`${name} tests (skipped: ${reason})`, () => {
    it("does not apply to this engine", () => undefined);
  });
}
