// CPU accounting for a shared box: which CPUs we may pin to, how busy the machine is
// (/proc/stat), how much of that was us (/proc/PID/stat of our processes), so every run
// records the foreign load it ran under; and waiting for the box to quiet down first.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";

/** Whole-machine tick counters: busy (not idle/iowait), steal, total. */
export function machineTicks() {
  const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait - steal, steal, total };
}

/** utime + stime (all threads) of a process in ticks; 0 when it is gone. */
export function processTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of proc(5)
  } catch {
    return 0;
  }
}

/** A snapshot of the machine and of the given processes ({ name: pid }). */
export function snapshot(pids) {
  const ours = {};
  for (const [name, pid] of Object.entries(pids)) ours[name] = processTicks(pid);
  return { at: performance.now(), machine: machineTicks(), ours };
}

/**
 * CPU use between two snapshots: per process in ms, and the foreign load (busy ticks not
 * ours) and steal as % of the whole box (all CPUs), like the baselines' foreign_pct.
 */
export function cpuBetween(a, b, ticksPerSecond = 100) {
  const total = b.machine.total - a.machine.total;
  const busy = b.machine.busy - a.machine.busy;
  const ms = {};
  let oursTicks = 0;
  for (const name of Object.keys(b.ours)) {
    const ticks = b.ours[name] - a.ours[name];
    oursTicks += ticks;
    ms[name] = (ticks * 1000) / ticksPerSecond;
  }
  const pct = (ticks) => (total > 0 ? Math.max(0, (100 * ticks) / total) : 0);
  return { ms, foreignPct: pct(busy - oursTicks), stealPct: pct(b.machine.steal - a.machine.steal), wallMs: b.at - a.at };
}

/** Share of the box that was idle over `ms`. */
export async function idleFraction(ms) {
  const a = machineTicks();
  await sleep(ms);
  const b = machineTicks();
  const total = b.total - a.total;
  return total > 0 ? 1 - (b.busy - a.busy) / total : 1;
}

/** Waits until the box is at least `threshold` idle (or `maxMs` passed). */
export async function waitForIdle({ threshold = 0.92, maxMs = 3000, windowMs = 250 } = {}) {
  const start = performance.now();
  let idle = await idleFraction(windowMs);
  while (idle < threshold && performance.now() - start < maxMs) idle = await idleFraction(windowMs);
  return { idle, waitedMs: Math.round(performance.now() - start), reachedIdle: idle >= threshold };
}

/** CPUs this process may run on (from /proc/self/status). */
export function allowedCpus() {
  const line = readFileSync("/proc/self/status", "utf8").match(/^Cpus_allowed_list:\s*(.+)$/m);
  if (!line) return Array.from({ length: availableParallelism() }, (_, i) => i);
  return line[1].split(",").flatMap((part) => {
    const [lo, hi] = part.split("-").map(Number);
    return Array.from({ length: (hi ?? lo) - lo + 1 }, (_, i) => lo + i);
  });
}

/**
 * Where client and server run: two different CPUs with taskset when possible, else
 * unpinned, with the reason.
 */
export function pinningPlan(wanted) {
  if (!wanted) return { pinned: false, reason: "--no-pin" };
  const cpus = allowedCpus();
  if (cpus.length < 2) return { pinned: false, reason: `only ${cpus.length} CPU allowed` };
  try {
    execFileSync("taskset", ["-c", String(cpus[0]), "true"], { stdio: "ignore" });
  } catch {
    return { pinned: false, reason: "taskset not available" };
  }
  return { pinned: true, tool: "taskset", client: cpus[0], server: cpus[1] };
}
