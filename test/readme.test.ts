// The README's quick start must really run: this extracts its code block, points the
// generated-code import at test/gen, runs it with plain node (resolving "connect-rdma"
// through the package's own exports map, i.e. dist/) and checks what it printed.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../", import.meta.url));

describe("README", () => {
  it("quick start runs and prints the quote", () => {
    const readme = readFileSync(`${root}README.md`, "utf8");
    const section = readme.slice(readme.indexOf("## Quick start"));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code, "README has a ```ts block under ## Quick start").toBeTruthy();
    const dir = `${root}test/.tmp`;
    mkdirSync(dir, { recursive: true });
    const file = `${dir}/readme-quick-start-${process.pid}.mjs`;
    writeFileSync(file, code!.replace("./gen/market/v1/market_pb.js", "../gen/market/v1/market_pb.js"));
    try {
      const out = execFileSync(process.execPath, [file], { cwd: root, encoding: "utf8", timeout: 30_000 });
      expect(out).toMatch(/symbol: 'ACME'/);
      expect(out).toMatch(/bid: 101\.5/);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
