// @connectrpc/connect and @bufbuild/protobuf are peer dependencies, as connect-node has
// them: a project has ONE copy of each, so a ConnectError thrown by connect-rdma is the
// project's ConnectError. The range in package.json is a promise, kept by trying both of
// its ends: the packed tarball installed into an empty project beside the oldest versions
// the range allows and beside the newest the registry has, each running every RPC kind,
// an error with details and interceptors on both sides (fixtures/peer-range.mjs), and
// `npm ls` finding exactly one copy of each peer.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { root } from "../channel/support/processes.js";

const SETUP_TIMEOUT = 300_000;
const PEERS = ["@connectrpc/connect", "@bufbuild/protobuf"] as const;
const work = mkdtempSync(`${tmpdir()}/connect-rdma-peers-`);
const peerRanges = (JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { peerDependencies: Record<string, string> }).peerDependencies;
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) && key !== "CONNECT_RDMA_PREBUILD"));

function run(command: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: cleanEnv, timeout: SETUP_TIMEOUT, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** The lowest version a caret range allows ("^2.7.0" -> "2.7.0"). */
function oldest(range: string): string {
  const m = /^\^(\d+\.\d+\.\d+)$/.exec(range);
  if (!m) throw new Error(`peer range ${range} is not a caret range: teach this test its lower end`);
  return m[1]!;
}

/** The newest version the registry has inside `range`. */
async function newest(name: string, range: string): Promise<string> {
  const view = await run("npm", ["view", `${name}@${range}`, "version", "--json"], work);
  expect(view.code, `npm view ${name}@${range}:\n${view.stderr}`).toBe(0);
  const versions = JSON.parse(view.stdout) as string | string[];
  return Array.isArray(versions) ? versions[versions.length - 1]! : versions;
}

let tarball = "";

beforeAll(async () => {
  const pack = await run("npm", ["pack", "--json", "--pack-destination", work], root);
  expect(pack.code, `npm pack failed:\n${pack.stderr}`).toBe(0);
  tarball = `${work}/${(JSON.parse(pack.stdout.slice(pack.stdout.indexOf("["))) as { filename: string }[])[0]!.filename}`;
}, SETUP_TIMEOUT);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.each([
  { end: "oldest", pick: async (name: string) => oldest(peerRanges[name]!) },
  { end: "newest", pick: (name: string) => newest(name, peerRanges[name]!) },
])("connect-rdma beside the $end peer versions", ({ end, pick }) => {
  const app = `${work}/${end}`;
  const versions: Record<string, string> = {};

  beforeAll(async () => {
    mkdirSync(app, { recursive: true });
    for (const name of PEERS) versions[name] = await pick(name);
    expect((await run("npm", ["init", "-y"], app)).code).toBe(0);
    const install = await run("npm", ["install", tarball, ...PEERS.map((n) => `${n}@${versions[n]}`), "--no-audit", "--no-fund"], app);
    expect(install.code, `npm install failed:\n${install.stdout}${install.stderr}`).toBe(0);
    copyFileSync(`${root}test/gen/market/v1/market_pb.js`, `${app}/market_pb.mjs`);
    copyFileSync(`${root}test/package/fixtures/peer-range.mjs`, `${app}/peer-range.mjs`);
  }, SETUP_TIMEOUT);

  it("has one copy of each peer, at the version asked for", async () => {
    for (const name of PEERS) {
      const ls = await run("npm", ["ls", "--all", "--json", name], app);
      const found = new Set<string>();
      const walk = (deps: Record<string, { version: string; dependencies?: Record<string, unknown> }> | undefined): void => {
        for (const [dep, info] of Object.entries(deps ?? {})) {
          if (dep === name) found.add(info.version);
          walk(info.dependencies as typeof deps);
        }
      };
      walk((JSON.parse(ls.stdout) as { dependencies?: Parameters<typeof walk>[0] }).dependencies);
      expect([...found], `${name} in npm ls`).toEqual([versions[name]]);
    }
  });

  it("runs every RPC kind, an error with details and interceptors through that copy", async () => {
    const result = await run(process.execPath, ["peer-range.mjs"], app);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      unary: "ACME",
      stream: [0, 1, 2],
      accepted: 4,
      acks: ["o0", "o1"],
      error: { isConnectError: true, code: "NotFound", detail: "hint" },
      seen: {
        server: ["GetQuote", "Subscribe", "SubmitOrders", "Trade", "GetQuote"],
        client: ["GetQuote", "Subscribe", "SubmitOrders", "Trade", "GetQuote"],
      },
    });
  });
});
