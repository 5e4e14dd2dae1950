// Capability gating shared by the suites that need something this machine may lack
// (io_uring, RDMA): with a reason, the suite is skipped and the reason printed; under
// CI=true a missing capability is a failing test instead, so CI never goes green by
// skipping what it was meant to run.

import { describe, it, type TestFunction } from "vitest";

/**
 * Runs `define` inside describe(name) when `reason` is undefined; otherwise registers a
 * skipped suite (reason printed on stderr), or under CI=true a failing test naming it.
 */
export function gatedDescribe(name: string, reason: string | undefined, define: () => void): void {
  gateSuite(name, reason, process.env.CI === "true" ? "CI=true" : undefined, define);
}

/** describe(name, define), or without the capability a failing suite when `demandedBy` names who demands it, else a skipped one. */
function gateSuite(name: string, reason: string | undefined, demandedBy: string | undefined, define: () => void): void {
  if (reason === undefined) {
    describe(name, define);
    return;
  }
  if (demandedBy !== undefined) {
    describe(name, () => {
      it(`has the capability it needs (${demandedBy}: a missing capability is a failure)`, () => {
        throw new Error(`${name} cannot run: ${reason}`);
      });
    });
    return;
  }
  console.warn(`[skip] ${name}: ${reason}`);
  describe.skip(`${name} (skipped: ${reason})`, () => {
    it("needs the capability", () => undefined);
  });
}

/**
 * One test needing a capability: it(title, fn) when `reason` is undefined; otherwise a
 * skipped test (reason printed on stderr), or under CI=true a failing test naming it.
 */
export function gatedIt(title: string, reason: string | undefined, fn: TestFunction): void {
  if (reason === undefined) {
    it(title, fn);
    return;
  }
  if (process.env.CI === "true") {
    it(`${title} (CI=true: a missing capability is a failure)`, () => {
      throw new Error(`${title} cannot run: ${reason}`);
    });
    return;
  }
  console.warn(`[skip] ${title}: ${reason}`);
  it.skip(`${title} (skipped: ${reason})`, fn);
}

/**
 * Like gatedDescribe, for a capability only the soft-RoCE guest is meant to have (this
 * host's kernel lacks it, the guest's has it: kTLS): skipped with the reason printed
 * where it is missing, CI=true included (the CI host lacks it by design), and a failing
 * test where the guest runner demands it (CONNECT_RDMA_REQUIRE=1, as
 * test/softroce/rdma-suite.test.ts runs its files in the guest).
 */
export function guestGatedDescribe(name: string, reason: string | undefined, define: () => void): void {
  gateSuite(name, reason, process.env.CONNECT_RDMA_REQUIRE === "1" ? "CONNECT_RDMA_REQUIRE=1" : undefined, define);
}
