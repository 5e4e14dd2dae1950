// What the numbers were measured on: CPU model and count, kernel, Node/V8 versions.
import { readFileSync } from "node:fs";
import os from "node:os";

/** "family 26 model 2" from /proc/cpuinfo (VMs often hide the marketing name). */
function cpuFamilyModel() {
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const field = (name) => info.match(new RegExp(`^${name}\\s*:\\s*(.+)$`, "m"))?.[1];
    return `family ${field("cpu family")} model ${field("model")}`;
  } catch {
    return undefined;
  }
}

/** Machine description recorded in every result file. */
export function machineInfo() {
  const cpus = os.cpus();
  let kernel = os.release();
  try {
    kernel = readFileSync("/proc/version", "utf8").trim();
  } catch {
    // os.release() is enough where /proc is absent
  }
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cpuFamilyModel: cpuFamilyModel(),
    cores: cpus.length,
    kernelRelease: os.release(),
    kernel,
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    memTotalBytes: os.totalmem(),
    loadAvg: os.loadavg(),
  };
}
