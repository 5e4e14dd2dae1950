// The documentation must stay true to the code: the code blocks TUNING.md and SECURITY.md
// mark as tested run (plain node, "connect-rdma" through the package's exports map), the stats field
// tables of OBSERVABILITY.md list exactly the fields the objects have, and every relative
// link in README.md, docs/*.md and examples/README.md points at a file (and heading) that
// exists.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, expect, it } from "vitest";

import { NetEngine, Region, UringEngine, autoEngine, createMemoryEngine, createServer } from "../../src/index.js";
import type { Channel } from "../../src/index.js";
import { resolveMessageLimits } from "../../src/connect/message-limits.js";
import { uringUnavailable } from "../channel/engines.js";
import { requireDist, root } from "../channel/support/processes.js";
import { gatedIt } from "../support/capability-gate.js";

function read(path: string): string {
  return readFileSync(`${root}${path}`, "utf8");
}

/** The text of a markdown section: from its heading to the next heading of any level. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}`);
  if (start < 0) throw new Error(`no section "${heading}"`);
  const rest = markdown.slice(start + heading.length + 1);
  const end = rest.search(/\n#{1,6} /);
  return end < 0 ? rest : rest.slice(0, end);
}

/** Field names of the first table in a section: every `name` in the first column. */
function tableFields(text: string): string[] {
  const fields: string[] = [];
  for (const line of text.split("\n")) {
    const cell = /^\| ([^|]+) \|/.exec(line)?.[1];
    if (!cell || cell.trim() === "field") continue;
    for (const m of cell.matchAll(/`(\w+)`/g)) fields.push(m[1]!);
  }
  return fields.sort();
}

/** Field names of an interface in a source file. */
function interfaceFields(path: string, name: string): string[] {
  const body = new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`).exec(read(path))?.[1] ?? "";
  return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]!);
}

const sorted = (keys: Iterable<string>): string[] => [...keys].sort();
const observability = read("docs/OBSERVABILITY.md");

describe("docs/OBSERVABILITY.md lists exactly the stats fields", () => {
  it("RpcStats (transports and servers)", async () => {
    const server = createServer({ routes: () => undefined });
    try {
      expect(tableFields(section(observability, "## Transports and servers: `stats()` → `RpcStats`"))).toEqual(sorted(Object.keys(server.stats())));
    } finally {
      await server.close();
    }
  });

  gatedIt("UringEngine.stats()", uringUnavailable(), async () => {
    const engine = new UringEngine();
    try {
      expect(tableFields(section(observability, "### io_uring: `UringEngine.stats()`"))).toEqual(sorted(Object.keys(engine.stats())));
    } finally {
      await engine.close();
    }
  });

  it("RdmaEngine.stats() (from the declared type: no RDMA device needed)", () => {
    const declared = [...interfaceFields("src/binding.ts", "NativeRdmaEngineStats"), "channels", "region"];
    expect(declared.length).toBeGreaterThan(10);
    expect(tableFields(section(observability, "### RDMA: `RdmaEngine.stats()`"))).toEqual(sorted(declared));
  });

  it("NetEngine.stats()", async () => {
    const engine = new NetEngine();
    try {
      expect(tableFields(section(observability, "### node:net fallback: `NetEngine.stats()`"))).toEqual(sorted(Object.keys(engine.stats())));
    } finally {
      await engine.close();
    }
  });

  it("MemoryEngine.stats() and channel.stats()", async () => {
    const engine = createMemoryEngine();
    try {
      expect(tableFields(section(observability, "### In-memory engine: `MemoryEngine.stats()`"))).toEqual(sorted(Object.keys(engine.stats())));
      await engine.listen("memory://docs", () => ({ onFrame: () => undefined, onClose: () => undefined }));
      const channel: Channel = await engine.connect("memory://docs", { onFrame: () => undefined, onClose: () => undefined });
      const channels = section(observability, "## Channels and regions");
      expect(tableFields(channels.slice(0, channels.indexOf("`region.stats()`")))).toEqual(sorted(Object.keys(channel.stats())));
      channel.close();
    } finally {
      await engine.close();
    }
  });

  it("region.stats()", () => {
    const region = new Region({ recvSlots: 4, leaseBytes: 64 * 1024 });
    try {
      const channels = section(observability, "## Channels and regions");
      expect(tableFields(channels.slice(channels.indexOf("`region.stats()`")))).toEqual(sorted(Object.keys(region.stats())));
    } finally {
      region.close();
    }
  });
});

describe("docs/LIMITS.md", () => {
  /** The cells of the table row whose first cell is `name`. */
  function row(markdown: string, name: string): string[] {
    const line = markdown.split("\n").find((l) => l.startsWith(`| ${name} |`));
    if (line === undefined) throw new Error(`no row "${name}"`);
    return line.split(" | ").map((c) => c.replace(/^\| |\s*\|$/g, ""));
  }

  it("the message size rows name the options servers and transports have, with the code's defaults", () => {
    const limits = read("docs/LIMITS.md");
    const defaults = resolveMessageLimits({});
    const received = row(limits, "message size received");
    const sent = row(limits, "message size sent");
    expect(received[1]).toBe(`${defaults.readMaxBytes / (1024 * 1024)} MiB`);
    expect(sent[1]).toBe("2^32 − 1 (~4 GiB)");
    expect(defaults.writeMaxBytes).toBe(2 ** 32 - 1);
    expect(received[2]).toMatch(/^`readMaxBytes` \(server, transport; `maxMessageBytes` sets both/);
    expect(sent[2]).toMatch(/^`writeMaxBytes` \(server, transport; `maxMessageBytes` sets both/);
    expect(interfaceFields("src/connect/message-limits.ts", "MessageLimitOptions").sort()).toEqual(["maxMessageBytes", "readMaxBytes", "writeMaxBytes"]);
    expect(read("src/connect/server-options.ts")).toContain("export interface ServerOptions extends MessageLimitOptions {");
    expect(read("src/connect/transport-options.ts")).toContain("export interface UringTransportOptions extends MessageLimitOptions {");
    // The shorthand sets both; an explicit limit overrides it.
    expect(resolveMessageLimits({ maxMessageBytes: 10, writeMaxBytes: 20 })).toEqual({ readMaxBytes: 10, writeMaxBytes: 20 });
  });
});

/**
 * Runs the code block that follows `marker` in a doc as a plain node module ("connect-rdma"
 * through the package's exports map, ./gen/ as the tests' generated code); returns its output.
 */
function runMarkedBlock(doc: string, marker: string, name: string): string {
  requireDist(["index", "channel", "connect", "region"]);
  const text = read(doc);
  const at = text.indexOf(marker);
  expect(at).toBeGreaterThan(0);
  const code = /```ts\n([\s\S]*?)```/.exec(text.slice(at))?.[1];
  expect(code).toBeTruthy();
  const dir = `${root}test/.tmp`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/${name}-${process.pid}.mjs`;
  writeFileSync(file, code!.replace("./gen/market/v1/market_pb.js", "../gen/market/v1/market_pb.js"));
  try {
    return execFileSync(process.execPath, [file], { cwd: root, encoding: "utf8", timeout: 30_000 }).trim();
  } finally {
    rmSync(file, { force: true });
  }
}

describe("docs/TUNING.md", () => {
  it("the tested code block runs: a shared engine with explicit region sizes and spin polling", () => {
    const out = runMarkedBlock("docs/TUNING.md", "<!-- The block below runs in test/docs/docs.test.ts. -->", "tuning");
    expect(out).toBe(`ACME ${autoEngine().engine} ${64 * 1024}`);
  });
});

describe("docs/SECURITY.md", () => {
  it("the tested code block runs: two keys valid at once, the handler reads the key id, an impostor is refused and reported", () => {
    const out = runMarkedBlock("docs/SECURITY.md", "<!-- The block below runs in test/docs/docs.test.ts: security-auth. -->", "security-auth");
    expect(out.split("\n")).toEqual(["ACME for 2027-01", "Unauthenticated", "proof-rejected 2026-12 1"]);
    expect(read("docs/SECURITY.md")).toContain("It prints `ACME for 2027-01`, `Unauthenticated`, then `proof-rejected 2026-12 1`.");
  });

  it("the Unix sockets block runs: allowUids admits this user, the handler sees its pid and uid", () => {
    const out = runMarkedBlock("docs/SECURITY.md", "<!-- The block below runs in test/docs/docs.test.ts: security-unix. -->", "security-unix");
    expect(out).toBe("true 0");
  });

  it("the Who is the peer block runs: an interceptor sees the client's tcp:// address", () => {
    const out = runMarkedBlock("docs/SECURITY.md", "<!-- The block below runs in test/docs/docs.test.ts: security-peer. -->", "security-peer");
    expect(out).toBe("true");
  });
});

describe("links", () => {
  const files = ["README.md", "examples/README.md", ...readdirSync(`${root}docs`).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

  /** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
  function anchors(markdown: string): Set<string> {
    return new Set(
      [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
        m[1]!
          .trim()
          .toLowerCase()
          .replace(/[^\p{L}\p{N} _-]/gu, "")
          .replace(/ /g, "-"),
      ),
    );
  }

  it.each(files)("relative links in %s resolve", (file) => {
    const text = read(file);
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!) || target!.startsWith("#")) continue;
      const [path, anchor] = target!.split("#");
      const absolute = resolve(dirname(`${root}${file}`), path!);
      if (!existsSync(absolute)) {
        broken.push(target!);
        continue;
      }
      if (anchor && absolute.endsWith(".md") && !anchors(readFileSync(absolute, "utf8")).has(anchor)) broken.push(target!);
    }
    expect(broken).toEqual([]);
  });
});
