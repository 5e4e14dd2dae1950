// Where the RDMA suite (test/rdma/) runs and what it may assume: the two soft-RoCE
// addresses (SOFTROCE_IP0 on rxe0, SOFTROCE_IP1 on rxe1, set by test/softroce/), the gate
// that skips the suite where there is no RDMA (with the reason printed) or fails it under
// CONNECT_RDMA_REQUIRE=1 (how test/softroce/rdma-suite.test.ts runs it in the guest),
// RDMA engine factories, the device's RNR counters, and bounded waits (a hang under
// test becomes a failure that says what it waited for).
//
// The gate does not follow CI=true on purpose: on the CI host these files are meant to
// skip (the host has no RDMA); CI runs them for real inside the guest, where the
// host-side runner sets CONNECT_RDMA_REQUIRE=1.

import { readFileSync, readdirSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { beforeAll, describe, expect, it } from "vitest";
import { native } from "../../../src/binding.js";
import { RdmaEngine, type RdmaEngineOptions } from "../../../src/channel/rdma-engine.js";

/** The server side: the address of the first device (rxe0). */
export const IP0 = process.env.SOFTROCE_IP0 ?? "10.77.0.1";
/** The client side: the address of the second device (rxe1). */
export const IP1 = process.env.SOFTROCE_IP1 ?? "10.77.0.2";

export const SKIP_REASON = "RDMA devices absent on this host: the suite runs inside the soft-RoCE guest via test/softroce";

/** True when the in-guest runner demands the suite (a missing capability is a failure). */
export const required = process.env.CONNECT_RDMA_REQUIRE === "1";

/** Why the RDMA suite cannot run here, or undefined. */
export function rdmaUnavailable(): string | undefined {
  let rdma;
  try {
    rdma = native().capabilities().rdma;
  } catch (error) {
    return `native addon not loadable: ${(error as Error).message}`;
  }
  if (!rdma.available) return `${SKIP_REASON} (capabilities: ${rdma.reason ?? "no ACTIVE port"})`;
  const local = new Set(
    Object.values(networkInterfaces())
      .flat()
      .map((entry) => entry?.address),
  );
  const missing = [IP0, IP1].filter((ip) => !local.has(ip));
  if (missing.length > 0) {
    return `RDMA devices present, but ${missing.join(" and ")} ${missing.length > 1 ? "are not local addresses" : "is not a local address"}: set SOFTROCE_IP0/SOFTROCE_IP1 to the addresses of two RDMA ports (test/softroce sets them)`;
  }
  return undefined;
}

/**
 * describe(name, define) where RDMA can run; elsewhere a skipped suite with the reason
 * printed, or under CONNECT_RDMA_REQUIRE=1 a failing test naming the reason.
 */
export function rdmaDescribe(name: string, define: () => void): void {
  const reason = rdmaUnavailable();
  if (reason === undefined) {
    describe(name, define);
    return;
  }
  if (required) {
    describe(name, () => {
      it("has RDMA devices (CONNECT_RDMA_REQUIRE=1: missing RDMA is a failure)", () => {
        throw new Error(`${name} cannot run: ${reason}`);
      });
    });
    return;
  }
  console.warn(`[skip] ${name}: ${reason}`);
  describe.skip(`${name} (skipped: ${reason})`, () => {
    it("needs RDMA devices", () => undefined);
  });
}

/** A listen URL on the server device (port 0). */
export function serverUrl(): string {
  return `rdma://${IP0}:0`;
}

/** An RDMA engine whose outgoing connections leave from the client device. */
export function clientEngine(options: RdmaEngineOptions = {}): RdmaEngine {
  return new RdmaEngine({ localAddress: IP1, ...options });
}

// ----------------------------------------------------------------- bounded waits ---

/** `promise`, or a rejection naming `what` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` every 5 ms; rejects naming `what` after `timeoutMs`. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// ------------------------------------------------------------------ RNR counters ---

/** The counters that count receiver-not-ready events (rxe names; mlx5 names differ). */
export const RNR_COUNTERS = ["rcvd_rnr_err", "send_rnr_err", "retry_rnr_exceeded_err"] as const;

/** `device/counter` -> value, for every RDMA device's port 1 and every RNR counter it has. */
export function readRnrCounters(): Map<string, number> {
  const out = new Map<string, number>();
  let devices: string[] = [];
  try {
    devices = readdirSync("/sys/class/infiniband");
  } catch {
    return out;
  }
  for (const device of devices) {
    for (const counter of RNR_COUNTERS) {
      try {
        out.set(`${device}/${counter}`, Number(readFileSync(`/sys/class/infiniband/${device}/ports/1/hw_counters/${counter}`, "utf8")));
      } catch {
        // this device does not have the counter
      }
    }
  }
  return out;
}

/**
 * What tells the two causes of an RNR NAK apart on soft-RoCE: a receive queue that ran
 * empty (credits out of step), or a READ response the responder failed to transmit
 * (rxe answers that with an RNR NAK too: issue 4) — then `send_err` moved as well, and
 * usually the kernel's backlog drops (second column of /proc/net/softnet_stat).
 */
function transmitDiagnostics(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const device of readdirSync("/sys/class/infiniband")) {
      for (const counter of ["send_err", "completer_retry_err", "duplicate_request"]) {
        try {
          out.set(`${device}/${counter}`, Number(readFileSync(`/sys/class/infiniband/${device}/ports/1/hw_counters/${counter}`, "utf8")));
        } catch {
          // this device does not have the counter
        }
      }
    }
    const softnet = readFileSync("/proc/net/softnet_stat", "utf8").trim().split("\n");
    out.set("softnet backlog drops", softnet.reduce((sum, line) => sum + parseInt(line.split(/\s+/)[1] ?? "0", 16), 0));
  } catch {
    // no RDMA devices or no /proc: nothing to add
  }
  return out;
}

/**
 * Snapshots the RNR counters before this file's tests and registers a last test that
 * they did not move. Files may run in parallel on the same devices: each file's window
 * covers its own traffic, so any RNR event in the suite fails at least one file.
 */
export function rnrCountersStayZero(): void {
  let before = new Map<string, number>();
  let diagnosticsBefore = new Map<string, number>();
  beforeAll(() => {
    before = readRnrCounters();
    diagnosticsBefore = transmitDiagnostics();
  });
  it("the devices' RNR counters did not move (credits kept every sender below the posted receives)", () => {
    const after = readRnrCounters();
    expect(
      [...after.keys()].some((key) => key.endsWith("/rcvd_rnr_err") || key.endsWith("/send_rnr_err")),
      `no RNR counter found under /sys/class/infiniband/*/ports/1/hw_counters (looked for ${RNR_COUNTERS.join(", ")})`,
    ).toBe(true);
    const moved = [...after].filter(([key, value]) => value !== (before.get(key) ?? 0)).map(([key, value]) => `${key}: ${before.get(key) ?? 0} -> ${value}`);
    const context = [...transmitDiagnostics()].map(([key, value]) => `${key} +${value - (diagnosticsBefore.get(key) ?? 0)}`).join(", ");
    expect(moved, `also moved in this file: ${context}`).toEqual([]);
  });
}
