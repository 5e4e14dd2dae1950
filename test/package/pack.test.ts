// The npm tarball, as a user gets it: `npm pack` (its prepack script refreshes dist/ and
// the prebuild), then `npm install <tarball>` into an EMPTY project (npm init -y) and,
// in that project: an ES module script that starts a server and makes a call over
// io_uring, CommonJS consumers (require() where Node supports require(esm), the helpful
// error where it does not, dynamic import()), the CLI from node_modules/.bin, and the
// install script's answer on a machine that lacks the build's system packages.
import { execFile, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { capabilities } from "../../src/index.js";
import { root } from "../channel/support/processes.js";
import { gatedDescribe } from "../support/capability-gate.js";

const SETUP_TIMEOUT = 300_000;
const work = mkdtempSync(`${tmpdir()}/connect-rdma-pack-`);
const app = `${work}/app`;
const installed = `${app}/node_modules/connect-rdma`;
const tuple = `${process.platform}-${process.arch}`;
const rootPackage = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as {
  name: string;
  version: string;
  engines: { node: string };
  os: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  exports: Record<string, unknown>;
  bin: Record<string, string>;
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment without npm's npm_* variables and the addon override
 * (CONNECT_RDMA_PREBUILD, set by scripts/test-asan.sh): `npm test` must not leak this
 * repository's settings into the user's npm, nor point the installed package at this
 * checkout's build.
 */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== "CONNECT_RDMA_PREBUILD"));

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: { ...cleanEnv, ...options.env }, timeout: options.timeout ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

function node(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return run(process.execPath, args, { cwd: app, env });
}

let packedFiles: string[] = [];
let installLog = "";

beforeAll(async () => {
  mkdirSync(app, { recursive: true });
  const env = {};
  const pack = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: root, env, timeout: SETUP_TIMEOUT });
  expect(pack.code, `npm pack failed:\n${pack.stderr}`).toBe(0);
  const report = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("["))) as { filename: string; files: { path: string }[] }[];
  packedFiles = report[0]!.files.map((f) => f.path);
  const tarball = `${work}/${report[0]!.filename}`;

  const init = await run("npm", ["init", "-y"], { cwd: app, env });
  expect(init.code, init.stderr).toBe(0);
  // What a user of the README's quick start installs: the package and its peers (the
  // versions this repository develops against; peer-range.test.ts tries both ends).
  const deps = ["@connectrpc/connect", "@bufbuild/protobuf"].map((d) => `${d}@${rootPackage.devDependencies[d]}`);
  const install = await run("npm", ["install", tarball, ...deps, "--prefer-offline", "--no-audit", "--no-fund", "--foreground-scripts"], {
    cwd: app,
    env,
    timeout: SETUP_TIMEOUT,
  });
  installLog = install.stdout + install.stderr;
  expect(install.code, `npm install of the tarball failed:\n${installLog}`).toBe(0);
  // Generated code of the test service, as a user's own generated code would sit beside their script.
  copyFileSync(`${root}test/gen/market/v1/market_pb.js`, `${app}/market_pb.mjs`);
}, SETUP_TIMEOUT);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("npm pack", () => {
  it("ships the compiled package, the CLI, the install scripts and the prebuild, not the sources", () => {
    for (const file of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/cjs.cjs", "dist/cli/main.js", "bin/connect-rdma.js", "scripts/install.js", "scripts/ensure-system-deps.sh", "binding.gyp"]) {
      expect(packedFiles).toContain(file);
    }
    expect(packedFiles.some((f) => f.startsWith("native/") && f.endsWith(".cc")), "native sources for the fallback build").toBe(true);
    expect(packedFiles).toContain(`prebuilds/${tuple}/connect-rdma.node`);
    // Source maps would point at src/, which is not shipped.
    expect(packedFiles.filter((f) => f.endsWith(".map"))).toEqual([]);
    for (const prefix of ["src/", "test/", "bench/", "build/", "docs/api/", "node_modules/", "examples/"]) {
      expect(packedFiles.filter((f) => f.startsWith(prefix))).toEqual([]);
    }
  });

  it("declares engines, os, bin and an exports map with import and require", () => {
    const pkg = JSON.parse(readFileSync(`${installed}/package.json`, "utf8")) as typeof rootPackage;
    expect(pkg.os).toEqual(["linux"]);
    const minimum = /^>=(\d+)/.exec(pkg.engines.node)?.[1];
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(Number(minimum));
    expect(pkg.bin).toEqual({ "connect-rdma": "./bin/connect-rdma.js" });
    expect(pkg.exports["."]).toMatchObject({ import: "./dist/index.js", require: "./dist/cjs.cjs" });
  });

  it("installs without compiling: the install script loads the prebuild", () => {
    expect(installLog).toContain(`connect-rdma: using prebuilds/${tuple}/connect-rdma.node`);
    expect(installLog).not.toMatch(/gyp info|building from source/);
  });
});

gatedDescribe("the installed package over io_uring", capabilities().ioUring.available ? undefined : `io_uring unavailable: ${capabilities().ioUring.reason}`, () => {
  it("an ES module script imports connect-rdma, serves and calls over io_uring", async () => {
    writeFileSync(
      `${app}/quick.mjs`,
      `import { createRequire } from "node:module";
import { createClient } from "@connectrpc/connect";
import { capabilities, createServer, createUringTransport } from "connect-rdma";
import { MarketService } from "./market_pb.mjs";

const server = createServer({
  routes: (router) => router.service(MarketService, {
    async getQuote(req) { return { symbol: req.symbol, bid: 101.5, ask: 101.6 }; },
  }),
});
const url = await server.listen("tcp://127.0.0.1:0");
const transport = createUringTransport({ url, engine: "uring" });
const client = createClient(MarketService, transport);
const quote = await client.getQuote({ symbol: "ACME" });
const stats = transport.stats();
await transport.close();
await server.close();
const pkgDir = new URL("./node_modules/connect-rdma/", import.meta.url).pathname;
const addon = createRequire(pkgDir + "package.json")("node-gyp-build").resolve(pkgDir);
console.log(JSON.stringify({ resolved: import.meta.resolve("connect-rdma"), addon, symbol: quote.symbol, bid: quote.bid, calls: stats.callsStarted, framesIn: stats.framesIn, addonLoaded: capabilities().addon.loaded }));
`,
    );
    const result = await node(["quick.mjs"]);
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout) as { resolved: string; addon: string; symbol: string; bid: number; calls: number; framesIn: number; addonLoaded: boolean };
    expect(out.resolved).toBe(`file://${installed}/dist/index.js`);
    expect(out.addon).toBe(`${installed}/prebuilds/${tuple}/connect-rdma.node`);
    expect(out).toMatchObject({ symbol: "ACME", bid: 101.5, calls: 1, addonLoaded: true });
    expect(out.framesIn).toBeGreaterThan(0);
  });
});

describe("CommonJS consumers", () => {
  const script = 'const m = require("connect-rdma"); console.log(typeof m.createServer, typeof m.createUringTransport);\n';

  it("require() works where Node can require ES modules; otherwise the error says to use import()", async () => {
    writeFileSync(`${app}/req.cjs`, script);
    const result = await node(["req.cjs"]);
    const requireModule = (process.features as { require_module?: boolean }).require_module === true;
    if (requireModule) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim()).toBe("function function");
    } else {
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('await import("connect-rdma")');
    }
  });

  it("without require(esm) (--no-experimental-require-module) the error names the fix", async (ctx) => {
    const probe = spawnSync(process.execPath, ["--no-experimental-require-module", "-e", "0"], { encoding: "utf8" });
    if (probe.status !== 0) ctx.skip(); // this Node has no such flag: it cannot require ES modules at all (test above)
    writeFileSync(`${app}/req.cjs`, script);
    const result = await node(["--no-experimental-require-module", "req.cjs"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("ERR_CONNECT_RDMA_ESM_ONLY");
    expect(result.stderr).toContain("turned off in this process (--no-experimental-require-module on the command line");
    expect(result.stderr).toContain('const { createServer, createUringTransport } = await import("connect-rdma");');
  });

  it("dynamic import() from CommonJS works on every supported Node", async () => {
    writeFileSync(`${app}/dyn.cjs`, 'import("connect-rdma").then((m) => console.log(typeof m.createServer, m.capabilities().addon.loaded));\n');
    const result = await node(["dyn.cjs"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe("function true");
  });
});

describe("installed CLI and install script", () => {
  it("node_modules/.bin/connect-rdma doctor finds the prebuilt addon", async () => {
    const result = await run(`${app}/node_modules/.bin/connect-rdma`, ["doctor", "--json"], { cwd: app });
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { checks: { id: string; status: string; summary: string }[] };
    const addon = report.checks.find((c) => c.id === "addon");
    expect(addon).toMatchObject({ status: "ok", summary: `loaded (prebuilds/${tuple}/connect-rdma.node)` });
    // Hints name only what an installed package has (the guest harness is in the source checkout).
    expect(result.stdout).not.toContain("test/softroce");
  });

  it("offers only what works in an installed package: no bench (the suite is in the source checkout)", async () => {
    const help = await run(`${app}/node_modules/.bin/connect-rdma`, ["--help"], { cwd: app });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^\s+doctor\b/m);
    expect(help.stdout).not.toMatch(/^\s+bench\b/m);
    const bench = await run(`${app}/node_modules/.bin/connect-rdma`, ["bench"], { cwd: app });
    expect(bench.code).toBe(2);
    expect(bench.stderr).toContain('unknown command "bench" (the benchmark suite ships with the source checkout, not the npm package)');
  });

  it("a source build on a machine without the system packages names them and the apt-get line", async () => {
    const fakeBin = `${work}/fake-bin`;
    mkdirSync(fakeBin, { recursive: true });
    // dpkg-query that knows no package: every build dependency reads as missing.
    writeFileSync(`${fakeBin}/dpkg-query`, "#!/bin/sh\nexit 1\n");
    chmodSync(`${fakeBin}/dpkg-query`, 0o755);
    const packages = /^packages=\(([^)]*)\)/m.exec(readFileSync(`${root}scripts/ensure-system-deps.sh`, "utf8"))![1]!.trim();
    const result = await run(process.execPath, [`${installed}/scripts/install.js`], {
      cwd: installed,
      env: { PATH: `${fakeBin}:${process.env.PATH}`, npm_config_build_from_source: "true" },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`missing system packages: ${packages}`);
    expect(result.stderr).toContain(`sudo apt-get install -y ${packages}`);
    expect(result.stderr).not.toContain("gyp info");
  });
});
