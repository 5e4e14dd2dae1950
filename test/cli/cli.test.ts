// The `connect-rdma` command, run for real as users run it (node bin/connect-rdma.js,
// i.e. the compiled dist/): help and usage errors, doctor against what capabilities()
// says in this process, serve + call over loopback (TCP with the engine "auto" picks,
// and a Unix socket on the node:net engine), call against a server whose echoes lie
// (mismatch detection), call to a port nobody listens on, and the
// bench pass-through.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { createInterface } from "node:readline";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

import { EchoService } from "../../src/cli/echo-service.js";
import { NetEngine, autoEngine, capabilities, createServer } from "../../src/index.js";
import { requireDist, root } from "../channel/support/processes.js";

const BIN = `${root}bin/connect-rdma.js`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A running `connect-rdma serve`: its output lines and its exit. */
class Serve {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  stderr = "";

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [BIN, "serve", ...args], { cwd: root, stdio: "pipe" });
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
    createInterface({ input: this.child.stdout }).on("line", (line) => this.lines.push(line));
    this.child.stderr.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  /** The URL of the "listening on URL (engine …)" line. */
  async url(timeoutMs = 15_000): Promise<{ url: string; line: string }> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const line = this.lines.find((l) => l.startsWith("listening on "));
      if (line) return { url: line.split(" ")[2]!, line };
      if (this.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`serve did not report its URL; stdout: ${this.lines.join("\n")}\nstderr: ${this.stderr}`);
  }

  /** SIGTERM, then the exit code and everything it printed. */
  async stop(): Promise<{ code: number | null; output: string }> {
    if (this.child.exitCode === null) this.child.kill("SIGTERM");
    const code = await this.exited;
    return { code, output: this.lines.join("\n") };
  }
}

const servers: Serve[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) if (s.child.exitCode === null) s.child.kill("SIGKILL");
});

beforeAll(() => requireDist(["cli/main", "cli/doctor", "cli/serve", "cli/call", "cli/bench", "cli/echo-service", "cli/format", "index"]));

describe("connect-rdma CLI: help", () => {
  it("--help lists every command; no command is a usage error", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["doctor", "bench", "serve", "call"]) expect(help.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, "m"));
    const none = await cli([]);
    expect(none.code).toBe(2);
  });

  it.each(["doctor", "bench", "serve", "call"])("%s --help prints its usage", async (command) => {
    const run = await cli([command, "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`usage: connect-rdma ${command}`);
    const viaHelp = await cli(["help", command]);
    expect(viaHelp.stdout).toBe(run.stdout);
  });

  it("unknown commands and options exit 2 with the usage", async () => {
    const unknown = await cli(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const badOption = await cli(["call", "tcp://127.0.0.1:1", "--count", "many"]);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain("--count must be an integer");
    expect(badOption.stderr).toContain("usage: connect-rdma call");
    const twoUrls = await cli(["serve", "tcp://127.0.0.1:0", "tcp://127.0.0.1:0"]);
    expect(twoUrls.code).toBe(2);
    expect(twoUrls.stderr).toContain("serve takes at most one URL");
  });

  it("--version prints the package version", async () => {
    const { version } = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string };
    const run = await cli(["--version"]);
    expect(run.stdout.trim()).toBe(version);
  });
});

describe("connect-rdma doctor", () => {
  const caps = capabilities();

  it("reports what capabilities() reports in this process, and exits 0", async () => {
    const run = await cli(["doctor"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Linux ${release()}`);
    if (caps.ioUring.available) expect(run.stdout).toMatch(/\]\s+io_uring\s+available/);
    else expect(run.stdout).toContain(`unavailable: ${caps.ioUring.reason}`);
    if (!caps.rdma.available) expect(run.stdout).toMatch(/\]\s+rdma\s+unavailable: /);
    for (const device of caps.rdma.devices) expect(run.stdout).toContain(device.name);
    expect(run.stdout).toMatch(/^\[(ok|warn)\]\s+memlock\s+/m);
    const auto = autoEngine();
    expect(run.stdout).toContain(`"auto" picks ${auto.engine}`);
    expect(run.stdout).toMatch(/^\[info\]\s+tls\s+a tls option on tcp:\/\/ runs on the node:net engine over a TLSSocket/m);
    expect(run.stdout).toContain(caps.tls.reason);
    expect(run.stdout).toMatch(/\d+ ok, \d+ warning\(s\), \d+ failure\(s\)/);
  });

  it("--json carries the same facts; --strict exits 1 exactly when a check warns or fails", async () => {
    const run = await cli(["doctor", "--json"]);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as {
      kernel: string;
      capabilities: { ioUring: { available: boolean }; rdma: { available: boolean; devices: { name: string }[] }; memlock: { soft: number | null; hard: number | null } };
      autoEngine: { engine: string } | null;
      checks: { id: string; status: string }[];
    };
    expect(report.kernel).toBe(release());
    expect(report.capabilities.ioUring.available).toBe(caps.ioUring.available);
    expect(report.capabilities.rdma.available).toBe(caps.rdma.available);
    expect(report.capabilities.rdma.devices.map((d) => d.name)).toEqual(caps.rdma.devices.map((d) => d.name));
    expect(report.capabilities.memlock.soft).toBe(Number.isFinite(caps.memlock.soft) ? caps.memlock.soft : null);
    expect(report.autoEngine?.engine).toBe(autoEngine().engine);
    const ids = report.checks.map((c) => c.id);
    for (const id of ["platform", "addon", "kernel", "io_uring", "engine", "tls", "memlock", "rdma"]) expect(ids).toContain(id);
    expect((report.capabilities as unknown as { tls: unknown }).tls).toEqual(caps.tls);
    const problems = report.checks.some((c) => c.status === "warn" || c.status === "fail");
    const strict = await cli(["doctor", "--strict"]);
    expect(strict.code).toBe(problems ? 1 : 0);
  });

  it("without the addon: FAIL lines with the fix, exit 0 (1 with --strict)", async () => {
    // node-gyp-build looks for the addon in $CONNECT_RDMA_PREBUILD instead of the package: make it empty.
    const empty = mkdtempSync(`${tmpdir()}/connect-rdma-noaddon-`);
    try {
      const run = await cli(["doctor"], { CONNECT_RDMA_PREBUILD: empty });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^\[FAIL\] addon\s+the native addon did not load/m);
      expect(run.stdout).toContain("sudo apt-get install -y liburing-dev");
      expect(run.stdout).toMatch(/^\[FAIL\] engine\s+no engine can run/m);
      const strict = await cli(["doctor", "--strict"], { CONNECT_RDMA_PREBUILD: empty });
      expect(strict.code).toBe(1);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("names the reason when the engine is forced to node:net", async () => {
    const run = await cli(["doctor", "--json"], { CONNECT_RDMA_ENGINE: "net" });
    const report = JSON.parse(run.stdout) as { autoEngine: { engine: string; reason?: string } };
    expect(report.autoEngine).toEqual({ engine: "net", reason: "CONNECT_RDMA_ENGINE=net" });
  });
});

describe("connect-rdma serve + call (loopback)", () => {
  it("without a URL, serve listens on loopback only (127.0.0.1, any free port)", async () => {
    const serve = new Serve(["--exit-after-ms", "30000"]);
    servers.push(serve);
    const { url } = await serve.url();
    expect(url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const run = await cli(["call", url, "--count", "3", "--warmup", "0"]);
    expect(run.code, run.stderr).toBe(0);
    const stopped = await serve.stop();
    expect(stopped.code).toBe(0);
    // Loopback is not exposed: no CONNECT_RDMA_UNPROTECTED warning.
    expect(serve.stderr).not.toContain("CONNECT_RDMA_UNPROTECTED");
  });

  it("a URL naming every interface (tcp://0.0.0.0) is explicit: allowed, with the unprotected warning", async () => {
    const serve = new Serve(["tcp://0.0.0.0:0", "--exit-after-ms", "1"]);
    servers.push(serve);
    const { url } = await serve.url();
    expect(url).toMatch(/^tcp:\/\/0\.0\.0\.0:\d+$/);
    expect(await serve.exited).toBe(0);
    expect(serve.stderr).toContain("CONNECT_RDMA_UNPROTECTED");
  });

  it("tcp:// with the engine auto picks: every echo checked, latencies and counters printed", async () => {
    const serve = new Serve(["tcp://127.0.0.1:0"]);
    servers.push(serve);
    const { url, line } = await serve.url();
    const engine = autoEngine().engine;
    expect(url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(line).toContain(`(engine ${engine}`);

    const count = 300;
    const warmup = 20;
    const run = await cli(["call", url, "--count", String(count), "--warmup", String(warmup)]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^server: .* pid ${serve.child.pid}, connect-rdma .*, engine ${engine}`, "m"));
    expect(run.stdout).toContain(`${count} call(s) of 64 B, 1 in flight: ${count} ok, 0 failed, 0 mismatched`);
    expect(run.stdout).toMatch(/min\s+p50\s+p90\s+p99\s+p99\.9\s+max\s+mean/);
    expect(run.stdout).toMatch(/throughput: \d+ calls\/s/);

    const stopped = await serve.stop();
    expect(stopped.code).toBe(0);
    // Info + warm-up + measured calls, as the server counted them.
    expect(stopped.output).toContain(`served ${1 + warmup + count} call(s)`);
  });

  it("unix:// on the node:net engine, concurrent calls across slots (--json)", async () => {
    const dir = mkdtempSync(`${tmpdir()}/connect-rdma-cli-`);
    try {
      const serve = new Serve([`unix://${dir}/echo.sock`, "--engine", "net"]);
      servers.push(serve);
      const { url } = await serve.url();
      const count = 64;
      const size = 40_000; // larger than a default 16 KiB receive slot: reassembled frames
      const run = await cli(["call", url, "--engine", "net", "--count", String(count), "--warmup", "0", "--size", String(size), "--concurrency", "8", "--json"]);
      expect(run.code, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout) as {
        server: { engine: string; pid: number };
        ok: number;
        failed: number;
        mismatched: number;
        latencyUs: { min: number; p50: number; p99: number; max: number };
        stats: { callsStarted: number; bytesOut: number };
      };
      expect(result.server).toMatchObject({ engine: "net", pid: serve.child.pid });
      expect(result).toMatchObject({ ok: count, failed: 0, mismatched: 0 });
      expect(result.latencyUs.min).toBeGreaterThan(0);
      expect(result.latencyUs.min).toBeLessThanOrEqual(result.latencyUs.p50);
      expect(result.latencyUs.p50).toBeLessThanOrEqual(result.latencyUs.p99);
      expect(result.latencyUs.p99).toBeLessThanOrEqual(result.latencyUs.max);
      expect(result.stats.callsStarted).toBe(count + 1);
      expect(result.stats.bytesOut).toBeGreaterThanOrEqual(count * size);
      expect((await serve.stop()).code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("call detects replies that differ from the request (payload or seq): counted as mismatched, named, exit 1", async () => {
    // A server whose echo lies for some calls: one byte flipped for every seq = 2 mod 5,
    // the wrong seq for seq 9 (the payload intact).
    const engine = new NetEngine();
    const server = createServer({
      routes: (router) => {
        router.service(EchoService, {
          echo(request) {
            const seq = Number(request.seq);
            const payload = request.payload.slice();
            if (seq % 5 === 2) payload[seq % payload.byteLength]! ^= 0x01;
            return { payload, seq: seq === 9 ? request.seq + 1n : request.seq };
          },
          info: () => ({ hostname: "liar", pid: process.pid, version: "0", engine: "net", engineReason: "", nodeVersion: "", kernel: "" }),
        });
      },
      engine,
    });
    try {
      const url = await server.listen("tcp://127.0.0.1:0");
      const run = await cli(["call", url, "--engine", "net", "--count", "20", "--warmup", "0", "--json"]);
      expect(run.code, run.stderr).toBe(1);
      const result = JSON.parse(run.stdout) as { ok: number; failed: number; mismatched: number; errors: string[] };
      expect(result).toMatchObject({ ok: 15, failed: 0, mismatched: 5 });
      expect(result.errors).toEqual([
        "call 2: reply differs from the request (seq 2, 64 B)",
        "call 7: reply differs from the request (seq 7, 64 B)",
        "call 9: reply differs from the request (seq 10, 64 B)",
        "call 12: reply differs from the request (seq 12, 64 B)",
        "call 17: reply differs from the request (seq 17, 64 B)",
      ]);
      const plain = await cli(["call", url, "--engine", "net", "--count", "5", "--warmup", "0"]);
      expect(plain.code).toBe(1);
      expect(plain.stdout).toContain("5 call(s) of 64 B, 1 in flight: 4 ok, 0 failed, 1 mismatched");
      expect(plain.stdout).toContain("error: call 2: reply differs from the request (seq 2, 64 B)");
    } finally {
      await server.close(0);
      await engine.close();
    }
  });

  it("call to a port nobody listens on fails with exit 1 and says why", async () => {
    const serve = new Serve(["tcp://127.0.0.1:0", "--exit-after-ms", "1"]);
    servers.push(serve);
    const { url } = await serve.url();
    await serve.exited; // the port is free again
    const run = await cli(["call", url, "--count", "1", "--warmup", "0"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/connect-rdma call: .*(refused|unavailable|ECONNREFUSED)/i);
  });
});

describe("connect-rdma bench", () => {
  it("passes arguments through to bench/echo.js", async () => {
    const run = await cli(["bench", "echo", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("usage: node bench/echo.js");
  });

  it("bench stream runs bench/connect.js with the stream workload", async () => {
    const run = await cli(["bench", "stream", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("usage: node bench/connect.js");
    expect(run.stdout).toContain("--workload KIND");
  });
});
