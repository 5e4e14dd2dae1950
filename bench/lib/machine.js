// What the numbers were measured on: CPU model and count, kernel, Node/V8 versions.
import { readFileSync } from "node:fs";
import os from "node:os";

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
