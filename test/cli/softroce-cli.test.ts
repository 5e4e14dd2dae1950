// `connect-rdma softroce` on this host, without booting anything: help, usage errors
// (exit 2), the mode it would choose and why the other cannot run (`status`, and a forced
// mode that cannot run: exit 77 naming what is missing). Running commands in either mode
// is tested in the guest (test/softroce/softroce.test.ts, test/softroce/package.test.ts).
import { execFile } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";

import { guestMode, hostMode } from "../../src/cli/softroce-mode.js";
import { requireDist, root } from "../channel/support/processes.js";

const BIN = `${root}bin/connect-rdma.js`;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, "softroce", ...args], { cwd: root, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

beforeAll(() => requireDist(["cli/main", "cli/softroce", "cli/softroce-mode", "cli/softroce-run", "cli/format"]));

describe("connect-rdma softroce: command line", () => {
  it("--help documents every subcommand, option and variable, exit 0", async () => {
    const { code, stdout } = await cli(["--help"]);
    expect(code).toBe(0);
    for (const word of ["run", "setup", "status", "shell", "clean", "--mode host", "--mode guest", "--loss", "--delay", "--reorder", "--mtu", "--link-down-after", "--link-down-for", "--timeout", "--rw", "SOFTROCE_SERVER_IP", "SOFTROCE_CLIENT_IP", "SOFTROCE_SERVER_DEVICE", "SOFTROCE_CLIENT_DEVICE"]) {
      expect(stdout, word).toContain(word);
    }
  });

  it.each([
    [[], "a subcommand is needed"],
    [["frobnicate"], 'unknown subcommand "frobnicate"'],
    [["run"], "run needs a command after --"],
    [["run", "--"], "run needs a command after --"],
    [["run", "true"], 'unexpected "true": the command goes after --'],
    [["run", "--loss", "101", "--", "true"], "--loss 101: a percentage from 0 to 100"],
    [["run", "--reorder", "x", "--", "true"], "--reorder x: a percentage"],
    [["run", "--delay", "5", "--", "true"], "--delay 5: a number with a unit"],
    [["run", "--mtu", "100", "--", "true"], "--mtu 100: an integer from 576 to 65535"],
    [["run", "--link-down-for", "1s", "--", "true"], "--link-down-for needs --link-down-after"],
    [["run", "--mode", "vm", "--", "true"], '--mode must be one of auto, host, guest, got "vm"'],
    [["run", "--bogus", "--", "true"], "--bogus"],
    [["shell", "--", "bash"], "shell takes no command"],
  ])("%j is a usage error: exit 2 with the message and the help", async (args, message) => {
    const { code, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(stderr).toContain("usage: connect-rdma softroce run");
  });

  it("connect-rdma --help lists softroce", async () => {
    const result = await new Promise<string>((resolve) => execFile(process.execPath, [BIN, "--help"], (_, stdout) => resolve(stdout)));
    expect(result).toMatch(/^\s+softroce run -- /m);
  });
});

describe("connect-rdma softroce: which mode, and why not", () => {
  const host = hostMode();
  const guest = guestMode();

  it("status names the mode run would use and, for a mode that cannot run, what is missing", async () => {
    const { code, stdout } = await cli(["status"]);
    expect(code).toBe(0);
    const expected = host.available ? "host mode" : guest.available ? "guest mode" : "no mode";
    expect(stdout.split("\n")[0]).toBe(`softroce run would use: ${expected}${expected === "no mode" ? " (see below)" : ""}`);
    for (const check of [host, guest]) {
      if (check.available) expect(stdout).toContain(`${check.mode} mode: available`);
      else for (const missing of check.missing) expect(stdout).toContain(missing);
    }
    expect(stdout).toMatch(/^running kernel: /m);
  });

  it("a forced host mode that cannot run exits 77 naming the missing pieces (here: this kernel's)", async (ctx) => {
    if (host.available) {
      console.warn("[softroce-cli] skipped: host mode can run on this machine (softroce.test.ts runs it in the guest either way)");
      ctx.skip();
    }
    const { code, stderr } = await cli(["run", "--mode", "host", "--", "true"]);
    expect(code).toBe(77);
    expect(stderr).toContain("host mode cannot run here");
    for (const missing of host.missing) expect(stderr).toContain(missing);
  });
});
