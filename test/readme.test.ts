// The README must stay true: its two-process quick start really runs (the .proto,
// buf.gen.yaml, server.mjs and client.mjs blocks are written to a directory, buf generates
// the code, the server starts in one process and the client calls it from another), and
// the platform claim of its Install section matches the glibc and libstdc++ symbol
// versions the addon needs.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";

const root = fileURLToPath(new URL("../", import.meta.url));
const readme = readFileSync(`${root}README.md`, "utf8");

/** The code blocks of a section whose first line names a file ("// server.mjs", "# buf.gen.yaml"). */
function namedBlocks(section: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const m of section.matchAll(/```\w+\n(?:\/\/|#) (\S+)\n([\s\S]*?)```/g)) blocks.set(m[1]!, `${m[2]}`);
  return blocks;
}

function sectionOf(heading: string): string {
  const start = readme.indexOf(`\n${heading}`);
  expect(start, `README has a section "${heading}"`).toBeGreaterThan(0);
  const rest = readme.slice(start + 1);
  const end = rest.indexOf("\n## ", 1);
  return end < 0 ? rest : rest.slice(0, end);
}

describe("README", () => {
  it("the quick start's server and client run in two processes", async () => {
    const blocks = namedBlocks(sectionOf("## Quick start"));
    expect([...blocks.keys()].sort()).toEqual(["buf.gen.yaml", "client.mjs", "proto/greet/v1/greet.proto", "server.mjs"]);
    // Inside the repository, so that "connect-rdma" resolves to this package through its exports map (dist/).
    const dir = `${root}test/.tmp/readme-quick-start-${process.pid}`;
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    for (const [name, text] of blocks) {
      mkdirSync(dirname(`${dir}/${name}`), { recursive: true });
      writeFileSync(`${dir}/${name}`, text);
    }
    execFileSync(`${root}node_modules/.bin/buf`, ["generate"], {
      cwd: dir,
      env: { ...process.env, PATH: `${root}node_modules/.bin:${process.env.PATH}` },
      timeout: 60_000,
    });

    const server = spawn(process.execPath, ["server.mjs", "tcp://127.0.0.1:0"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    onTestFinished(() => {
      server.kill("SIGKILL");
    });
    let serverErr = "";
    server.stderr.on("data", (d: Buffer) => (serverErr += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      server.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      server.once("exit", (code) => reject(new Error(`server exited (${code}) before listening: ${serverErr}`)));
    });
    expect(url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);

    const client = execFileSync(process.execPath, ["client.mjs", url], { cwd: dir, encoding: "utf8", timeout: 30_000 });
    expect(client.trim()).toBe("Hello, Ada!");

    // SIGTERM closes the server gracefully: the process ends on its own.
    const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)));
    server.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("the glibc and libstdc++ the Install section names are what the addon needs", () => {
    const claim = /needs glibc (\d+\.\d+) and libstdc\+\+ of GCC (\d+) or newer/.exec(readme.replace(/\n/g, " "));
    expect(claim, "README states the glibc and GCC the prebuilt addon needs").not.toBeNull();
    const symbols = execFileSync("objdump", ["-T", `${root}build/Release/connect_rdma.node`], { encoding: "utf8" });
    const newest = (prefix: string): string =>
      [...new Set([...symbols.matchAll(new RegExp(`${prefix}_([0-9.]+)`, "g"))].map((m) => m[1]!))]
        .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
        .at(-1)!;
    expect(newest("GLIBC")).toBe(claim![1]);
    // GLIBCXX_3.4.29 is the libstdc++ of GCC 11 (https://gcc.gnu.org/onlinedocs/libstdc++/manual/abi.html).
    const gccOf: Record<string, string> = { "3.4.28": "10", "3.4.29": "11", "3.4.30": "12", "3.4.31": "13" };
    expect(gccOf[newest("GLIBCXX")]).toBe(claim![2]);
  });
});
