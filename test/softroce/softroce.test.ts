// The soft-RoCE harness, host side: boots the guest once (`connect-rdma softroce run
// --mode guest`, with a delay and an MTU on its link) to run guest-check.mjs, which checks
// capabilities() (rxe0/rxe1 ACTIVE, io_uring) and runs ib_send_lat rxe1 -> rxe0, then
// harness-check.mjs, which checks the command itself in both modes (host mode for real,
// on the guest's kernel: exit codes, signals, cleanup, faults, a link flap, the RDMA
// transport suite under 1 % loss); asserts on their SOFTROCE_CHECK and HARNESS_CHECK
// reports. When this machine cannot run the guest (packages missing and not root, kernel
// download failed: exit 77) the suite skips with the reason printed — except under
// CI=true, where that is a failure.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, it, type TestContext } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const cli = fileURLToPath(new URL("../../bin/connect-rdma.js", import.meta.url));
const guestTimeoutSeconds = 1500;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function run(args: string[]): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, "softroce", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 }));
  });
}

interface PortReport {
  port: number;
  state: string;
  linkLayer: string;
  activeMtu: number;
  gidCount?: number;
}
interface CheckReport {
  kernel: string;
  devices: { name: string; ports: PortReport[] }[];
  rdmaAvailable: boolean;
  ioUringAvailable: boolean;
  sendLat?: { bytes: number; iterations: number; p50Us: number; p99Us: number };
  rxe1SentPackets: number;
  failures: string[];
}

/** Faults asked of the guest's own link: harness-check.mjs reports what it found there. */
const GUEST_FAULTS = ["--delay", "100us", "--mtu", "3000"];

/** What harness-check.mjs reports (see there); each step's fields, or { error }. */
type Step = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type StepName = "guest" | "hostRun" | "exitCode" | "stdin" | "crash" | "ctrlC" | "killed" | "unprivileged" | "program" | "flapBack" | "lossQuick" | "flapQuick" | "loss" | "flap";
type HarnessReport = Record<StepName, Step>;
const clean = { netdev: false, rxe: false, rules: false, address: false };
let harness: HarnessReport | undefined;

let unavailable: string | undefined;
let guest: Run | undefined;
let report: CheckReport | undefined;

/** Skips (printing why) when the guest cannot run here; under CI=true that fails instead. */
function requireGuest(ctx: TestContext): void {
  if (unavailable === undefined) return;
  if (process.env.CI === "true") throw new Error(`soft-RoCE guest required under CI=true: ${unavailable}`);
  console.warn(`[softroce] skipped: ${unavailable}`);
  ctx.skip(unavailable);
}

describe("soft-RoCE guest", () => {
  beforeAll(async () => {
    // Installs host packages (root) and fetches/builds the kernel cache; boots nothing.
    const setup = await run(["setup", "--mode", "guest"]);
    if (setup.code === 77) {
      unavailable = setup.stderr.trim().split("\n").filter(Boolean).join("; ");
      return;
    }
    if (setup.code !== 0) throw new Error(`connect-rdma softroce setup exited ${setup.code}:\n${setup.stderr}`);
    if (!existsSync(`${root}/dist/capabilities.js`)) throw new Error("dist/ is not built: run `npm run build`");

    const checks = "node test/softroce/guest-check.mjs; status=$?; node test/softroce/harness-check.mjs; exit $status";
    guest = await run(["run", "--mode", "guest", "--timeout", String(guestTimeoutSeconds), ...GUEST_FAULTS, "--", "bash", "-c", checks]);
    const line = guest.stdout.split("\n").find((l) => l.startsWith("SOFTROCE_CHECK "));
    if (line) report = JSON.parse(line.slice("SOFTROCE_CHECK ".length)) as CheckReport;
    const harnessLine = guest.stdout.split("\n").find((l) => l.startsWith("HARNESS_CHECK "));
    if (harnessLine) harness = JSON.parse(harnessLine.slice("HARNESS_CHECK ".length)) as HarnessReport;
    const summary = guest.stdout.split("\n").filter((l) => l && !/^(SOFTROCE|HARNESS)_CHECK /.test(l));
    if (harness) summary.push(`harness check: ${JSON.stringify(harness)}`);
    if (guest.code !== 0) summary.push(...guest.stderr.trim().split("\n").slice(-20));
    console.log(
      [`[softroce] setup ${setup.seconds.toFixed(1)} s, guest run ${guest.seconds.toFixed(1)} s (exit ${guest.code})`, ...summary]
        .join("\n[softroce] "),
    );
  }, (600 + 2400 + guestTimeoutSeconds + 30) * 1000); // 2400 s: waiting for other guests (one at a time)

  it("boots, runs the check and passes its exit code back", (ctx) => {
    requireGuest(ctx);
    expect(guest, "guest run").toBeDefined();
    expect(report, `no SOFTROCE_CHECK line; stderr:\n${guest?.stderr}`).toBeDefined();
    expect(report?.failures).toEqual([]);
    expect(guest?.code).toBe(0);
  });

  it("capabilities() lists rxe0 and rxe1, each with an ACTIVE RoCE port", (ctx) => {
    requireGuest(ctx);
    expect(report?.rdmaAvailable).toBe(true);
    for (const name of ["rxe0", "rxe1"]) {
      const device = report?.devices.find((d) => d.name === name);
      expect(device, name).toBeDefined();
      expect(device?.ports).toContainEqual(expect.objectContaining({ port: 1, state: "ACTIVE", linkLayer: "Ethernet" }));
    }
  });

  it("io_uring works in the guest kernel", (ctx) => {
    requireGuest(ctx);
    expect(report?.ioUringAvailable).toBe(true);
  });

  it("ib_send_lat runs from rxe1 to rxe0 and prints a latency line", (ctx) => {
    requireGuest(ctx);
    expect(report?.sendLat?.p50Us).toBeGreaterThan(0);
    expect(report?.rxe1SentPackets).toBeGreaterThanOrEqual(1000);
  });

  describe("connect-rdma softroce", () => {
    const step = (name: keyof HarnessReport): Step => {
      expect(harness, `no HARNESS_CHECK line; stderr:\n${guest?.stderr.slice(-4000)}`).toBeDefined();
      const result = harness![name];
      expect(result?.error, `${name} step threw`).toBeUndefined();
      return result!;
    };

    it("guest mode: the variables, the caller's cwd, and the faults on the guest's link", (ctx) => {
      requireGuest(ctx);
      const guestStep = step("guest");
      expect(guestStep.env).toMatchObject({
        SOFTROCE_MODE: "guest",
        SOFTROCE_SERVER_IP: "10.77.0.1",
        SOFTROCE_CLIENT_IP: "10.77.0.2",
        SOFTROCE_SERVER_DEVICE: "rxe0",
        SOFTROCE_CLIENT_DEVICE: "rxe1",
        SOFTROCE_IP0: "10.77.0.1",
        SOFTROCE_IP1: "10.77.0.2",
      });
      expect(guestStep.cwd).toBe(root.replace(/\/$/, ""));
      expect(guestStep.qdisc).toMatch(/netem .*delay (99|100)us/); // netem rounds to its clock
      expect(guestStep.link).toContain("mtu 3000");
    });

    it("host mode is chosen on a kernel with rdma_rxe: a pair of its own, removed afterwards", (ctx) => {
      requireGuest(ctx);
      const hostRun = step("hostRun");
      expect(hostRun.status, hostRun.stderr).toBe(0);
      expect(hostRun.seen.env).toMatchObject({
        SOFTROCE_MODE: "host",
        SOFTROCE_SERVER_IP: "10.77.0.3",
        SOFTROCE_CLIENT_IP: "10.77.0.4",
        SOFTROCE_SERVER_DEVICE: "srxe2",
        SOFTROCE_CLIENT_DEVICE: "srxe3",
        SOFTROCE_IP0: "10.77.0.3",
      });
      expect(hostRun.seen.cwd).toBe(root.replace(/\/$/, ""));
      expect(hostRun.seen.links).toMatch(/srxe2\/1 state ACTIVE .*netdev srveth2/);
      expect(hostRun.seen.links).toMatch(/srxe3\/1 state ACTIVE .*netdev srveth3/);
      expect(hostRun.after).toEqual(clean);
    });

    it("host mode passes the exit code, stdin and a signal through, and cleans up after each", (ctx) => {
      requireGuest(ctx);
      expect(step("exitCode")).toMatchObject({ status: 7, after: clean });
      expect(step("stdin")).toMatchObject({ status: 0, stdout: "hello over stdin\n" });
      expect(step("crash")).toMatchObject({ status: null, signal: "SIGSEGV", after: clean });
    });

    it("host mode: Ctrl-C ends the run by SIGINT and removes the pair; a killed run's pair is taken back", (ctx) => {
      requireGuest(ctx);
      const ctrlC = step("ctrlC");
      expect(ctrlC).toMatchObject({ pairSeen: true, ending: { code: null, signal: "SIGINT" }, after: clean });
      const killed = step("killed");
      expect(killed.pairSeen).toBe(true);
      expect(killed.left.netdev, "the killed run's pair stays until the next run").toBe(true);
      expect(killed.next.stdout.trim()).toBe("10.77.0.3");
      expect(killed.after).toEqual(clean);
    });

    it("host mode without the rights: exit 77 naming CAP_NET_ADMIN", (ctx) => {
      requireGuest(ctx);
      const unprivileged = step("unprivileged");
      expect(unprivileged.status, unprivileged.stderr).toBe(77);
      expect(unprivileged.stderr).toContain("root or CAP_NET_ADMIN");
    });

    it("a Connect program over rdma:// runs in host mode (examples/softroce/rdma-quote.mjs)", (ctx) => {
      requireGuest(ctx);
      const program = step("program");
      expect(program.status, program.stderr).toBe(0);
      const out = JSON.parse(program.stdout) as { mode: string; devices: string[]; quotes: string[]; calls: number };
      expect(out).toMatchObject({ mode: "host", devices: ["srxe2", "srxe3"], calls: 3 });
      expect(out.quotes).toEqual(["ACME 101.5/101.6 #4", "INITECH 101.5/101.6 #7", "HOOLI 101.5/101.6 #5"]);
    });

    it("host mode: after --link-down-for the client's route to the server crosses the pair again", (ctx) => {
      requireGuest(ctx);
      const flapBack = step("flapBack");
      expect(flapBack.status, flapBack.stderr).toBe(0);
      const [down, up, route] = (flapBack.stdout as string).split("\n");
      expect([down, up], "the client netdev went down, then up").toEqual(["down", "up"]);
      expect(route).toMatch(/^10\.77\.0\.3 from 10\.77\.0\.4 dev srveth3 /);
    });

    /** A loss step's run (harness-check.mjs lossRun): the qdisc in place, every selected test passed. */
    const expectLossRunPassed = (name: StepName): void => {
      const loss = step(name);
      expect(loss.qdisc).toMatch(/netem .*loss 1%/);
      expect(loss.status, `${loss.failed.join("\n")}\n${loss.stderr}`).toBe(0);
      expect(loss.summary.join(" ")).toMatch(/Tests\s+\d+ passed/);
      expect(loss.summary.join(" ")).not.toMatch(/failed/);
    };
    /** A flap step's run (harness-check.mjs flapRun): every call ended Unavailable within the bound, nothing left behind. */
    const expectFlapEndedCalls = (name: StepName): void => {
      const { status, flap, stderr, after } = step(name);
      expect(status, stderr).toBe(0);
      expect(flap.downAfterMs, "the link went down").toBeGreaterThan(0);
      expect(flap.callsBefore + flap.quotesBefore, "calls went through before the flap").toBeGreaterThan(0);
      for (const name of ["stream", "unary", "after"]) {
        expect(flap[name], name).toMatchObject({ result: "error", code: 14 }); // Code.Unavailable
        expect(flap[name].atMs - flap.downAfterMs, `${name}: ms after the link went down`).toBeLessThan(60_000);
      }
      expect(after).toEqual(clean);
    };

    it("RPC kinds and flow control over RDMA pass under 1 % loss on the link (--loss 1)", (ctx) => {
      requireGuest(ctx);
      expectLossRunPassed("lossQuick");
    });

    it("a link that goes down mid-stream (the program takes it down) gives Unavailable to every call in bounded time", (ctx) => {
      requireGuest(ctx);
      expectFlapEndedCalls("flapQuick");
    });

    // Opt-in (`npm run test:softroce:faults`): the whole transport suite under loss and a
    // flap timed by the harness cost more than a whole npm test run here; npm test says so.
    const linkFaults = process.env.SOFTROCE_LINK_FAULTS === "1";
    if (!linkFaults) console.warn("[softroce] full link-fault tests (the transport suite under --loss, --link-down-after) not run: npm run test:softroce:faults runs them");

    it.runIf(linkFaults)("the RDMA transport suite passes under 1 % loss on the link (--loss 1; all but its sub-second deadline group)", (ctx) => {
      requireGuest(ctx);
      expectLossRunPassed("loss");
    });

    it.runIf(linkFaults)("a link that goes down mid-stream (--link-down-after) gives Unavailable to every call in bounded time", (ctx) => {
      requireGuest(ctx);
      expectFlapEndedCalls("flap");
    });
  });
});
