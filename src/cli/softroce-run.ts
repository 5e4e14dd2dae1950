// Runs a command with two soft-RoCE devices, in either mode: host (a pair from
// softroce/host-pair.sh on the running kernel, removed afterwards whatever happens) or
// guest (softroce/run-in-guest.sh). stdio is inherited; the result is the command's
// exit code, or the signal that ended it, which the caller re-raises (endLike).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { constants } from "node:os";

import { harnessDir } from "./softroce-mode.js";

/** The link's faults as rxe-pair.sh reads them (SR_LOSS, SR_DELAY, ...). */
export type FaultEnv = Record<string, string>;

/** How the command ended. */
export interface Ending {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Options that only the guest has. */
export interface GuestOptions {
  timeout?: number;
  cpus?: number;
  mem?: string;
  rw: string[];
  keep: boolean;
  interactive: boolean;
  verbose: boolean;
}

/**
 * This process standing in for the command, from before its devices exist until they are
 * gone again: SIGTERM and SIGHUP are passed on to the command (or, before it started,
 * keep it from starting); SIGINT is not (Ctrl-C reaches the whole foreground process
 * group, the command included, already). Either way the signal is remembered, and none
 * of them ends this process before it has cleaned up.
 */
class StandIn {
  received: NodeJS.Signals | undefined;
  #child: ChildProcess | undefined;
  readonly #off: (() => void)[];

  constructor() {
    this.#off = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((signal) => {
      const handler = (): void => {
        this.received = signal;
        if (signal !== "SIGINT") this.#child?.kill(signal);
      };
      process.on(signal, handler);
      return () => process.off(signal, handler);
    });
  }

  /** Waits for `child`; a spawn failure ends like a shell's (127: not found, else 126). */
  wait(child: ChildProcess): Promise<Ending> {
    this.#child = child;
    if (this.received !== undefined && this.received !== "SIGINT") child.kill(this.received);
    return new Promise((resolve) => {
      child.on("error", (error: NodeJS.ErrnoException) => {
        console.error(`connect-rdma softroce: ${child.spawnfile}: ${error.message}`);
        resolve({ code: error.code === "ENOENT" ? 127 : 126, signal: null });
      });
      child.on("exit", (code, signal) => resolve({ code, signal }));
    });
  }

  release(): void {
    for (const off of this.#off) off();
  }
}

/** Ends this process the way the command ended: the same signal, or the same code. */
export function endLike(ending: Ending): number {
  if (ending.signal === null) return ending.code ?? 1;
  process.removeAllListeners(ending.signal);
  process.kill(process.pid, ending.signal);
  // Reached only when the signal is ignored here (SIGPIPE in Node): the shell's code.
  return 128 + (constants.signals[ending.signal] ?? 0);
}

/** The signal a guest exit code 129-159 stands for (the guest's shell reports signals so). */
function signalOf(code: number): NodeJS.Signals | null {
  const entry = Object.entries(constants.signals).find(([, n]) => n === code - 128);
  return entry ? (entry[0] as NodeJS.Signals) : null;
}

/** Host mode: takes a pair, runs the command beside it, always removes the pair. */
export async function runOnHost(command: string[], faults: FaultEnv): Promise<Ending> {
  const standIn = new StandIn();
  try {
    return await runBesidePair(command, faults, standIn);
  } finally {
    standIn.release();
  }
}

async function runBesidePair(command: string[], faults: FaultEnv, standIn: StandIn): Promise<Ending> {
  const up = spawnSync("bash", [`${harnessDir}host-pair.sh`, "up", String(process.pid)], {
    env: { ...process.env, ...faults },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (up.status !== 0) {
    console.error("connect-rdma softroce: host mode could not set up its devices (see above)");
    return { code: 125, signal: null };
  }
  const pair = Object.fromEntries(
    up.stdout
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  ) as Record<string, string>;
  const names = Object.fromEntries(Object.entries(pair).filter(([name]) => name.startsWith("SOFTROCE_")));
  try {
    // Interrupted while the pair was being made: the command never starts.
    if (standIn.received !== undefined) return { code: null, signal: standIn.received };
    const child = spawn(command[0]!, command.slice(1), {
      stdio: "inherit",
      env: {
        ...process.env,
        ...names,
        SOFTROCE: "1",
        SOFTROCE_MODE: "host",
        // The earlier names, which this repository's suites and benchmarks read.
        SOFTROCE_IP0: pair.SOFTROCE_SERVER_IP,
        SOFTROCE_IP1: pair.SOFTROCE_CLIENT_IP,
        SOFTROCE_DEV0: pair.SOFTROCE_SERVER_DEVICE,
        SOFTROCE_DEV1: pair.SOFTROCE_CLIENT_DEVICE,
      },
    });
    return await standIn.wait(child);
  } finally {
    spawnSync("bash", [`${harnessDir}host-pair.sh`, "down", pair.SR_PAIR ?? ""], { stdio: ["ignore", "ignore", "inherit"] });
  }
}

/** Guest mode: run-in-guest.sh with the guest's options and the faults. */
export async function runInGuest(command: string[], faults: FaultEnv, options: GuestOptions): Promise<Ending> {
  const args: string[] = [];
  if (options.timeout !== undefined) args.push("--timeout", String(options.timeout));
  if (options.cpus !== undefined) args.push("--cpus", String(options.cpus));
  if (options.mem !== undefined) args.push("--mem", options.mem);
  for (const dir of options.rw) args.push("--rw", dir);
  if (options.keep) args.push("--keep");
  if (options.interactive) args.push("-i");
  if (options.verbose) args.push("-v");
  const standIn = new StandIn();
  let ending: Ending;
  try {
    ending = await standIn.wait(spawn("bash", [`${harnessDir}run-in-guest.sh`, ...args, "--", ...command], { stdio: "inherit", env: { ...process.env, ...faults } }));
  } finally {
    standIn.release();
  }
  // Interrupted: run-in-guest.sh killed the guest and said so; end as the signal did.
  if (standIn.received !== undefined && (ending.code === 143 || ending.signal !== null)) return { code: null, signal: standIn.received };
  const signal = ending.code !== null && ending.code > 128 && ending.code < 160 ? signalOf(ending.code) : null;
  if (signal !== null) return { code: null, signal };
  return { code: ending.code, signal: ending.signal };
}
