// `connect-rdma doctor`: what this machine and process can use, and why not. Gathers
// capabilities() plus what the kernel and process say (/proc: kernel version, sysctl
// kernel.io_uring_disabled, seccomp, CAP_IPC_LOCK, rdma_rxe, the soft-RoCE harness's mode,
// the tls ULP) into a list of checks, each with a status and the commands that fix it.
// Owns the diagnosis and its rendering, and the checks of the platform, addon, kernel,
// io_uring, engine, TLS, memlock and CPUs; the RDMA checks are doctor-rdma.ts's.
// Exit code 0 unless --strict (then 1 when any check warns or fails).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { release } from "node:os";
import { parseArgs } from "node:util";

import { Region, autoEngine, capabilities, type Capabilities } from "../index.js";
import { readText } from "./doctor-check.js";
import type { Check, CheckStatus } from "./doctor-check.js";
import { checkRdma, checkSoftRoce } from "./doctor-rdma.js";
import { UsageError, bytes, packageRoot, packageVersion } from "./format.js";

export type { Check, CheckStatus } from "./doctor-check.js";

export const DOCTOR_HELP = `usage: connect-rdma doctor [--json] [--strict]

Checks what connect-rdma can use on this machine and in this process: the native addon,
the kernel, io_uring (and why not), the engine "auto" picks, the path TLS takes (kTLS or
a TLSSocket, and why), the memlock limit (and how to raise it), RDMA devices with their
port states, soft-RoCE.

  --json     print the report as JSON instead of text
  --strict   exit 1 when any check warns or fails (default: always exit 0)
  --help     this text`;

/** Everything doctor found; what --json prints. */
export interface DoctorReport {
  version: string;
  node: string;
  platform: string;
  arch: string;
  kernel: string;
  /** capabilities() with unlimited memlock as null (JSON has no Infinity). */
  capabilities: Omit<Capabilities, "memlock"> & { memlock: { soft: number | null; hard: number | null } };
  /** The engine "auto" picks for tcp:// and unix:// URLs, and why it fell back (if it did). */
  autoEngine: { engine: "uring" | "net"; reason?: string } | null;
  checks: Check[];
}

const CAP_IPC_LOCK = 14;
const MIN_KERNEL: [number, number] = [6, 1];

/** A field of /proc/self/status ("Seccomp", "CapEff", ...). */
function procStatus(field: string): string | undefined {
  const match = new RegExp(`^${field}:\\s*(\\S+)`, "m").exec(readText("/proc/self/status") ?? "");
  return match?.[1];
}

function hasCapIpcLock(): boolean {
  const capEff = procStatus("CapEff");
  if (capEff === undefined) return false;
  return ((BigInt(`0x${capEff}`) >> BigInt(CAP_IPC_LOCK)) & 1n) === 1n;
}

function kernelVersion(text: string): [number, number] | undefined {
  const match = /^(\d+)\.(\d+)/.exec(text);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

function inContainer(): string | undefined {
  if (existsSync("/.dockerenv")) return "Docker (/.dockerenv)";
  if (existsSync("/run/.containerenv")) return "Podman (/run/.containerenv)";
  const cgroup = readText("/proc/1/cgroup") ?? "";
  if (/docker|kubepods|containerd|lxc/.test(cgroup)) return "a container (/proc/1/cgroup)";
  return undefined;
}

/** Where node-gyp-build finds the addon (a prebuild or build/Release), or undefined. */
function addonPath(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const load = require("node-gyp-build") as { resolve(dir: string): string };
    return load.resolve(packageRoot).replace(packageRoot, "");
  } catch {
    return undefined;
  }
}

/** Bytes of a Region with default sizes: what each RDMA engine registers. */
function defaultRegionBytes(): number | undefined {
  try {
    const region = new Region();
    const size = region.stats().size;
    region.close();
    return size;
  } catch {
    return undefined;
  }
}

function checkPlatform(): Check {
  const [major] = process.versions.node.split(".").map(Number);
  const problems: string[] = [];
  if (process.platform !== "linux") problems.push(`platform ${process.platform} (connect-rdma is Linux-only)`);
  if (process.arch !== "x64") problems.push(`arch ${process.arch} (prebuilds are linux-x64; others build from source)`);
  if ((major ?? 0) < 20) problems.push(`Node ${process.versions.node} (needs >= 20)`);
  return {
    id: "platform",
    status: process.platform !== "linux" || (major ?? 0) < 20 ? "fail" : problems.length > 0 ? "warn" : "ok",
    summary: problems.length > 0 ? problems.join("; ") : `${process.platform}-${process.arch}, Node ${process.versions.node}`,
    details: [],
    hints: [],
  };
}

/** The Debian packages a source build needs: the list of scripts/ensure-system-deps.sh (shipped in the package). */
function buildPackages(): string {
  const script = readText(`${packageRoot}scripts/ensure-system-deps.sh`) ?? "";
  return /^packages=\(([^)]*)\)/m.exec(script)?.[1]?.trim() ?? "liburing-dev libibverbs-dev librdmacm-dev ibverbs-providers g++ make python3 pkg-config";
}

function checkAddon(caps: Capabilities): Check {
  if (caps.addon.loaded) {
    return { id: "addon", status: "ok", summary: `loaded (${addonPath() ?? "path unknown"})`, details: [], hints: [] };
  }
  return {
    id: "addon",
    status: "fail",
    summary: "the native addon did not load",
    details: (caps.addon.reason ?? "").split("\n").map((line) => line.trim()).filter((line) => line !== ""),
    hints: [
      `system packages of a source build: sudo apt-get install -y ${buildPackages()}`,
      "then, in a project that installed connect-rdma: npm rebuild connect-rdma --build-from-source (in a checkout: npm run build:native)",
    ],
  };
}

function checkKernel(kernel: string): Check {
  const version = kernelVersion(kernel);
  const recent = version !== undefined && (version[0] > MIN_KERNEL[0] || (version[0] === MIN_KERNEL[0] && version[1] >= MIN_KERNEL[1]));
  return {
    id: "kernel",
    status: recent ? "ok" : "warn",
    summary: `Linux ${kernel}${recent ? "" : ` (the io_uring engine needs >= ${MIN_KERNEL.join(".")})`}`,
    details: [],
    hints: recent ? [] : ["upgrade the kernel to 6.1 or newer, or use the node:net fallback (engine: \"net\", chosen automatically)"],
  };
}

function checkIoUring(caps: Capabilities, kernel: string): Check {
  if (caps.ioUring.available) return { id: "io_uring", status: "ok", summary: "available", details: [], hints: [] };
  const details: string[] = [];
  const hints: string[] = [];
  const disabled = readText("/proc/sys/kernel/io_uring_disabled")?.trim();
  if (disabled !== undefined) {
    details.push(`sysctl kernel.io_uring_disabled = ${disabled} (0: allowed, 1: only group kernel.io_uring_group, 2: nobody)`);
    if (disabled !== "0") hints.push("sudo sysctl -w kernel.io_uring_disabled=0   (persist it in /etc/sysctl.d/)");
  }
  const seccomp = procStatus("Seccomp");
  if (seccomp === "2") {
    details.push("this process runs under a seccomp filter (Seccomp: 2 in /proc/self/status)");
    const container = inContainer();
    if (container) details.push(`running in ${container}: Docker's default seccomp profile blocks io_uring_setup`);
    hints.push("Docker: docker run --security-opt seccomp=<a profile allowing io_uring_setup, io_uring_enter, io_uring_register> …");
  }
  const version = kernelVersion(kernel);
  if (version && (version[0] < MIN_KERNEL[0] || (version[0] === MIN_KERNEL[0] && version[1] < MIN_KERNEL[1]))) {
    hints.push(`kernel ${kernel} is older than 6.1: upgrade it`);
  }
  hints.push("without io_uring, tcp:// and unix:// run on the node:net engine (same API and wire format, slower)");
  return { id: "io_uring", status: "warn", summary: `unavailable: ${caps.ioUring.reason ?? "unknown reason"}`, details, hints };
}

function checkEngine(auto: DoctorReport["autoEngine"], caps: Capabilities, error: string | undefined): Check {
  if (error !== undefined) return { id: "engine", status: "fail", summary: error, details: [], hints: ["unset CONNECT_RDMA_ENGINE, or set it to uring, net or auto"] };
  if (auto === null) {
    return { id: "engine", status: "fail", summary: "no engine can run without the native addon", details: [], hints: [] };
  }
  const names = { uring: "io_uring", net: "node:net fallback" } as const;
  const details = [
    `tcp:// and unix:// URLs -> ${auto.engine} (${names[auto.engine]})${auto.reason ? `, because ${auto.reason}` : ""}`,
    `rdma:// URLs            -> ${caps.rdma.available ? "rdma (RC queue pairs via rdma_cm; not encrypted: run it on a trusted fabric or under IPsec, docs/SECURITY.md)" : "rejected with ERR_RDMA_UNAVAILABLE (see rdma below)"}`,
    `shm:// URLs             -> ${caps.shm.available ? "shm (shared-memory rings, peers on this host)" : `unavailable: ${caps.shm.reason ?? "unknown reason"}`}`,
  ];
  const forced = process.env.CONNECT_RDMA_ENGINE;
  const hints = forced ? [`CONNECT_RDMA_ENGINE=${forced} is set in the environment and overrides "auto"`] : [];
  return {
    id: "engine",
    status: auto.engine === "uring" || forced ? "ok" : "warn",
    summary: `"auto" picks ${auto.engine} (${names[auto.engine]})${auto.reason ? `: ${auto.reason}` : ""}`,
    details,
    hints,
  };
}

function checkTls(caps: Capabilities): Check {
  const { tls } = caps;
  return {
    id: "tls",
    status: "info",
    summary:
      tls.path === "ktls"
        ? "a tls option on tcp:// runs on io_uring with kernel TLS (kTLS; the handshake in node:tls)"
        : "a tls option on tcp:// runs on the node:net engine over a TLSSocket (OpenSSL in Node encrypts)",
    details: [tls.reason, `kernel TLS (kTLS) offered: ${tls.ktls ? "yes" : "no"} (docs/SECURITY.md, "TLS paths")`],
    hints: [],
  };
}

function checkMemlock(caps: Capabilities, regionBytes: number | undefined): Check {
  const { soft, hard } = caps.memlock;
  const capIpcLock = hasCapIpcLock();
  const summary = `${bytes(soft)} soft / ${bytes(hard)} hard`;
  const details: string[] = [];
  if (regionBytes !== undefined) {
    details.push(`each RDMA engine registers its whole region (default ${bytes(regionBytes)}) with ibv_reg_mr, which counts against this limit`);
  }
  details.push("io_uring pins only its rings and the provided-buffer ring (small), not the region");
  if (capIpcLock) {
    details.push("this process has CAP_IPC_LOCK (e.g. root): the limit does not apply to it");
    return { id: "memlock", status: "ok", summary: `${summary} (not enforced: CAP_IPC_LOCK)`, details, hints: [] };
  }
  const needed = regionBytes ?? 0;
  const enough = !Number.isFinite(soft) || soft >= needed;
  const hints = enough
    ? []
    : [
        `this shell: ulimit -l unlimited   (only up to the hard limit, ${bytes(hard)}; raising the hard limit needs root)`,
        "all logins: /etc/security/limits.d/memlock.conf with '*  -  memlock  unlimited' (log in again)",
        "a systemd service: LimitMEMLOCK=infinity in its [Service] section",
        "Docker: docker run --ulimit memlock=-1:-1 …   Kubernetes: run with CAP_IPC_LOCK or raise the node's limit",
        "or make the region smaller: new RdmaEngine({ region: { recvSlots, slotSize, leaseBytes } }) (docs/TUNING.md)",
      ];
  return {
    id: "memlock",
    status: enough ? "ok" : "warn",
    summary: enough ? summary : `${summary}: below one default RDMA region (${bytes(needed)}); RDMA registration would fail with ENOMEM`,
    details,
    hints,
  };
}

function checkCpus(): Check {
  let allowed: number | undefined;
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(readText("/proc/self/status") ?? "")?.[1];
  if (list) {
    allowed = list.split(",").reduce((n, part) => {
      const [a, b] = part.split("-").map(Number);
      return n + (b !== undefined ? b - (a ?? 0) + 1 : 1);
    }, 0);
  }
  return {
    id: "cpus",
    status: "info",
    summary: `${allowed ?? "?"} CPU(s) allowed (${list ?? "unknown"})`,
    details: ['poll: "spin" busy-polls a core after each completion: give each spinning process its own core (taskset -c N node …), see docs/TUNING.md'],
    hints: [],
  };
}

/** Runs every check. */
export function diagnose(): DoctorReport {
  const caps = capabilities();
  const kernel = release();
  let auto: DoctorReport["autoEngine"] = null;
  let autoError: string | undefined;
  if (caps.addon.loaded) {
    try {
      auto = autoEngine();
    } catch (e) {
      autoError = (e as Error).message;
    }
  }
  const regionBytes = caps.addon.loaded ? defaultRegionBytes() : undefined;
  const checks: Check[] = [checkPlatform(), checkAddon(caps), checkKernel(kernel)];
  if (caps.addon.loaded) {
    checks.push(checkIoUring(caps, kernel), checkEngine(auto, caps, autoError), checkTls(caps), checkMemlock(caps, regionBytes), checkRdma(caps), checkSoftRoce(caps, kernel));
  } else {
    checks.push(checkEngine(auto, caps, autoError));
  }
  checks.push(checkCpus());
  const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);
  return {
    version: packageVersion(),
    node: process.versions.node,
    platform: process.platform,
    arch: process.arch,
    kernel,
    capabilities: { ...caps, memlock: { soft: finite(caps.memlock.soft), hard: finite(caps.memlock.hard) } },
    autoEngine: auto,
    checks,
  };
}

const MARK: Record<CheckStatus, string> = { ok: "[ok]  ", info: "[info]", warn: "[warn]", fail: "[FAIL]" };

/** The report as text. */
export function renderReport(report: DoctorReport): string {
  const lines = [`connect-rdma ${report.version} doctor: Node ${report.node}, Linux ${report.kernel}, ${report.platform}-${report.arch}`, ""];
  const width = Math.max(...report.checks.map((c) => c.id.length));
  for (const check of report.checks) {
    lines.push(`${MARK[check.status]} ${check.id.padEnd(width)}  ${check.summary}`);
    const pad = " ".repeat(MARK.ok.length + width + 3);
    for (const detail of check.details) lines.push(`${pad}${detail}`);
    for (const hint of check.hints) lines.push(`${pad}fix: ${hint}`);
  }
  const count = (s: CheckStatus): number => report.checks.filter((c) => c.status === s).length;
  lines.push("", `${count("ok")} ok, ${count("warn")} warning(s), ${count("fail")} failure(s)`);
  return lines.join("\n");
}

/** `connect-rdma doctor [--json] [--strict]`; resolves with the exit code. */
export async function doctorCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { json: { type: "boolean", default: false }, strict: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, DOCTOR_HELP);
  }
  if (values.help) {
    console.log(DOCTOR_HELP);
    return 0;
  }
  const report = diagnose();
  console.log(values.json ? JSON.stringify(report, null, 2) : renderReport(report));
  const problems = report.checks.some((c) => c.status === "warn" || c.status === "fail");
  return values.strict && problems ? 1 : 0;
}
