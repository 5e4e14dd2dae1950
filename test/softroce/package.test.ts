// The soft-RoCE harness as a user gets it: `npm pack`, `npm install <tarball>` (with the
// peer dependencies) into an EMPTY project, a small user program written there (a Connect
// server and client over rdma://, createRdmaTransport, the SOFTROCE_* variables: the
// example examples/softroce/rdma-quote.mjs with its generated code beside it), run with
// `npx connect-rdma softroce run -- node program.mjs` from that project. On this machine
// that boots the guest (the host kernel has no rdma_rxe), once. Gated like the other
// guest suites: where neither mode can run (exit 77 from `softroce setup`) it skips with
// the reason printed, except under CI=true, where that is a failure.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";

import { root } from "../channel/support/processes.js";

const SETUP_TIMEOUT = 300_000;
/** The guest run, including the wait for other guests (one at a time on this machine). */
const GUEST_TIMEOUT = 2_400_000;
const work = mkdtempSync(`${tmpdir()}/connect-rdma-softroce-pack-`);
const app = `${work}/app`;
const devDependencies = (JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { devDependencies: Record<string, string> }).devDependencies;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** The environment without npm's npm_* variables and this checkout's addon override (a user's shell has neither). */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== "CONNECT_RDMA_PREBUILD" && !key.startsWith("VITEST")));

function run(command: string, args: string[], cwd: string, timeout = SETUP_TIMEOUT): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: cleanEnv, timeout, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr, seconds: (performance.now() - started) / 1000 }),
    );
  });
}

let packedFiles: string[] = [];
let unavailable: string | undefined;
let program: Run | undefined;

function requireHarness(ctx: TestContext): void {
  if (unavailable === undefined) return;
  if (process.env.CI === "true") throw new Error(`soft-RoCE harness required under CI=true: ${unavailable}`);
  console.warn(`[softroce-package] skipped: ${unavailable}`);
  ctx.skip(unavailable);
}

beforeAll(async () => {
  mkdirSync(app, { recursive: true });
  const pack = await run("npm", ["pack", "--json", "--pack-destination", work], root);
  expect(pack.code, `npm pack failed:\n${pack.stderr}`).toBe(0);
  const report = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("["))) as { filename: string; files: { path: string }[] }[];
  packedFiles = report[0]!.files.map((f) => f.path);
  expect((await run("npm", ["init", "-y"], app)).code).toBe(0);
  const peers = ["@connectrpc/connect", "@bufbuild/protobuf"].map((d) => `${d}@${devDependencies[d]}`);
  const install = await run("npm", ["install", `${work}/${report[0]!.filename}`, ...peers, "--prefer-offline", "--no-audit", "--no-fund"], app);
  expect(install.code, `npm install failed:\n${install.stdout}${install.stderr}`).toBe(0);
  // The user's program and, beside it, their generated code.
  copyFileSync(`${root}test/gen/market/v1/market_pb.js`, `${app}/market_pb.mjs`);
  const example = readFileSync(`${root}examples/softroce/rdma-quote.mjs`, "utf8");
  expect(example).toContain('from "../gen/market/v1/market_pb.js"');
  writeFileSync(`${app}/program.mjs`, example.replace('from "../gen/market/v1/market_pb.js"', 'from "./market_pb.mjs"'));

  const setup = await run("npx", ["connect-rdma", "softroce", "setup"], app);
  if (setup.code === 77) {
    unavailable = setup.stderr.trim().split("\n").filter(Boolean).join("; ");
    return;
  }
  expect(setup.code, `softroce setup failed:\n${setup.stdout}${setup.stderr}`).toBe(0);
  program = await run("npx", ["connect-rdma", "softroce", "run", "--", "node", "program.mjs"], app, GUEST_TIMEOUT);
  console.log(`[softroce-package] npx connect-rdma softroce run -- node program.mjs: ${program.seconds.toFixed(1)} s, exit ${program.code}\n${program.stdout}`);
}, 2 * SETUP_TIMEOUT + GUEST_TIMEOUT);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the soft-RoCE harness in the npm package", () => {
  it("ships the harness scripts", () => {
    for (const script of ["run-in-guest.sh", "guest-init.sh", "guest-setup.sh", "prepare-kernel.sh", "host-deps.sh", "rxe-pair.sh", "host-pair.sh"]) {
      expect(packedFiles).toContain(`softroce/${script}`);
    }
    expect(packedFiles.filter((f) => f.startsWith("test/"))).toEqual([]);
  });

  it("npx connect-rdma softroce run -- node program.mjs: exit 0 and the program's output come back", (ctx) => {
    requireHarness(ctx);
    expect(program?.code, `exit code; stderr:\n${program?.stderr.slice(-4000)}`).toBe(0);
    const out = JSON.parse(program!.stdout.trim().split("\n").at(-1)!) as { mode: string; devices: string[]; url: string; quotes: string[]; calls: number };
    expect(["host", "guest"]).toContain(out.mode);
    expect(out.url).toMatch(/^rdma:\/\/10\.77\.0\.\d+:\d+$/);
    expect(out.devices.every((d) => /rxe\d+$/.test(d))).toBe(true);
    expect(out.quotes).toEqual(["ACME 101.5/101.6 #4", "INITECH 101.5/101.6 #7", "HOOLI 101.5/101.6 #5"]);
    expect(out.calls).toBe(3);
  });
});
