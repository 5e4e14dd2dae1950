// Which soft-RoCE mode `connect-rdma softroce` can use here, and why not: host mode
// (rdma_rxe on the running kernel, with the rights and tools to make a pair) or guest
// mode (the QEMU guest of softroce/run-in-guest.sh). Each missing piece is named with
// the command or package that supplies it. Read by `softroce` and by `doctor`.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { release } from "node:os";
import { delimiter } from "node:path";

import { packageRoot } from "./format.js";

export type SoftRoceMode = "host" | "guest";

/** One mode's verdict: available, or the pieces missing (each says how to get it). */
export interface ModeCheck {
  mode: SoftRoceMode;
  available: boolean;
  missing: string[];
}

/** The harness scripts (package root's softroce/). */
export const harnessDir = `${packageRoot}softroce/`;

const CAP_NET_ADMIN = 12;
const CAP_SYS_MODULE = 16;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Whether this process holds capability `bit` (CapEff of /proc/self/status). */
function hasCapability(bit: number): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)/im.exec(readText("/proc/self/status") ?? "")?.[1];
  return hex !== undefined && ((BigInt(`0x${hex}`) >> BigInt(bit)) & 1n) === 1n;
}

/** Whether `name` is an executable on PATH (plus the sbin directories sudo would add). */
export function onPath(name: string): boolean {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  return dirs.some((dir) => dir !== "" && existsSync(`${dir}/${name}`));
}

/** "loaded" (or built in), "module" (loadable from /lib/modules) or "absent". */
function kernelModule(name: string, kernel: string): "loaded" | "module" | "absent" {
  if (existsSync(`/sys/module/${name}`)) return "loaded";
  const pattern = new RegExp(`/${name}\\.ko`);
  if (pattern.test(readText(`/lib/modules/${kernel}/modules.builtin`) ?? "")) return "loaded";
  if (pattern.test(readText(`/lib/modules/${kernel}/modules.dep`) ?? "")) return "module";
  return "absent";
}

/** rdma-core's rxe provider (librxe), which user space needs to open an rxe device. */
function hasRxeProvider(): boolean {
  for (const lib of ["/usr/lib", "/usr/lib64", "/lib"]) {
    let dirs: string[];
    try {
      dirs = ["", ...readdirSync(lib).filter((d) => d.endsWith("-linux-gnu")).map((d) => `${d}/`)];
    } catch {
      continue;
    }
    for (const dir of dirs) {
      try {
        if (readdirSync(`${lib}/${dir}libibverbs`).some((f) => f.startsWith("librxe-"))) return true;
      } catch {
        // no provider directory here
      }
    }
  }
  return false;
}

/**
 * Host mode: rdma_rxe loaded or loadable, the rights to make network and RDMA devices,
 * iproute2's ip and rdma (and tc and sch_netem for loss, delay and reordering), librxe.
 */
export function hostMode(options: { netem?: boolean } = {}): ModeCheck {
  const missing: string[] = [];
  const kernel = release();
  if (process.platform !== "linux") return { mode: "host", available: false, missing: [`Linux (this is ${process.platform})`] };
  const rxe = kernelModule("rdma_rxe", kernel);
  if (rxe === "absent") {
    missing.push(`the rdma_rxe kernel module: the running kernel ${kernel} has none (Ubuntu: sudo apt-get install linux-modules-extra-${kernel}; other kernels: CONFIG_RDMA_RXE)`);
  } else if (rxe === "module" && !hasCapability(CAP_SYS_MODULE)) {
    missing.push("rdma_rxe is not loaded and loading it needs root: sudo modprobe rdma_rxe");
  }
  if (!hasCapability(CAP_NET_ADMIN)) missing.push("root or CAP_NET_ADMIN, to create network and RDMA devices (run it with sudo)");
  const tools = ["ip", "rdma", ...(options.netem ? ["tc"] : [])].filter((tool) => !onPath(tool));
  if (tools.length > 0) missing.push(`iproute2's ${tools.join(", ")} (Debian/Ubuntu: sudo apt-get install iproute2)`);
  if (options.netem && kernelModule("sch_netem", kernel) === "absent") {
    missing.push(`the sch_netem kernel module, for --loss/--delay/--reorder: the running kernel ${kernel} has none (Ubuntu: linux-modules-extra-${kernel})`);
  }
  if (!hasRxeProvider()) missing.push("rdma-core's rxe provider librxe (Debian/Ubuntu: sudo apt-get install ibverbs-providers; Fedora: libibverbs)");
  return { mode: "host", available: missing.length === 0, missing };
}

/** The host packages the guest needs that are not installed (host-deps.sh). */
function missingGuestPackages(): string[] | undefined {
  const result = spawnSync("bash", [`${harnessDir}host-deps.sh`, "--missing"], { encoding: "utf8" });
  if (result.status !== 0) return undefined;
  return result.stdout.split(/\s+/).filter(Boolean);
}

/**
 * Guest mode: x86-64 Linux with dpkg/apt (Debian, Ubuntu) and the packages host-deps.sh
 * lists — or root, which installs them on first use.
 */
export function guestMode(): ModeCheck {
  if (process.platform !== "linux" || process.arch !== "x64") {
    return { mode: "guest", available: false, missing: [`x86-64 Linux (this is ${process.platform}-${process.arch})`] };
  }
  if (!onPath("dpkg-query") || !onPath("apt-get")) {
    return { mode: "guest", available: false, missing: ["a Debian or Ubuntu host (the guest is built with apt and dpkg)"] };
  }
  const packages = missingGuestPackages();
  if (packages === undefined) return { mode: "guest", available: false, missing: [`${harnessDir}host-deps.sh could not run`] };
  if (packages.length > 0 && process.getuid?.() !== 0) {
    return { mode: "guest", available: false, missing: [`host packages: sudo apt-get install -y --no-install-recommends ${packages.join(" ")}`] };
  }
  return { mode: "guest", available: true, missing: [] };
}

/** The mode `run` uses: the one asked for, else host when it is available, else guest. */
export function chooseMode(requested: SoftRoceMode | "auto", options: { netem?: boolean } = {}): { chosen: ModeCheck; host: ModeCheck; guest?: ModeCheck } {
  const host = hostMode(options);
  if (requested === "host" || (requested === "auto" && host.available)) return { chosen: host, host };
  const guest = guestMode();
  return { chosen: guest, host, guest };
}
