// `connect-rdma softroce run|setup|status|shell|clean`: the soft-RoCE test harness as a
// command. Owns the command line (options, usage errors), the choice of mode and the
// faults' translation into what softroce/rxe-pair.sh reads; softroce-run.ts runs the
// command, softroce-mode.ts says which mode can run. Exit codes: the command's own (or
// its signal), 2 usage, 77 no mode can run here, 125 the harness failed.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { homedir, release } from "node:os";
import { parseArgs } from "node:util";

import { UsageError, choiceOption } from "./format.js";
import { chooseMode, guestMode, harnessDir, type ModeCheck, type SoftRoceMode } from "./softroce-mode.js";
import { endLike, runInGuest, runOnHost, type FaultEnv, type GuestOptions } from "./softroce-run.js";

export const SOFTROCE_HELP = `usage: connect-rdma softroce run [options] -- <command> [args...]
       connect-rdma softroce setup|status|clean [--mode host|guest]
       connect-rdma softroce shell [options]

Runs a command with two soft-RoCE (rdma_rxe) devices linked to each other, in the
current directory, with stdout, stderr and the exit code passed through (a command
killed by a signal ends this one by the same signal). The command sees:
  SOFTROCE_SERVER_IP, SOFTROCE_CLIENT_IP          the two devices' addresses (10.77.0.0/24)
  SOFTROCE_SERVER_DEVICE, SOFTROCE_CLIENT_DEVICE  their RDMA device names
  SOFTROCE_SERVER_NETDEV, SOFTROCE_CLIENT_NETDEV  their network devices (a veth pair)
  SOFTROCE=1, SOFTROCE_MODE=host|guest
A client must bind its source address to SOFTROCE_CLIENT_IP (both addresses are local).

  run       run the command (after --)
  setup     fetch and cache what the mode needs (guest: host packages, Debian's kernel)
  status    which mode runs here and why, the cache, kernel and rdma-core versions
  shell     an interactive shell with the devices
  clean     remove the guest cache and host-mode devices left by killed runs

Modes (default: host where it can run, else guest):
  --mode host        rdma_rxe on the running kernel: needs root (or CAP_NET_ADMIN), the
                     rdma_rxe module, iproute2 and rdma-core; no VM, the command runs here
  --mode guest       a QEMU guest (TCG) booting Debian's kernel with the host's root
                     filesystem read-only under a throw-away overlay; the command runs as
                     root inside it; stdin is empty unless -i
Faults on the link between the two devices (each direction):
  --loss PERCENT           drop packets (tc netem)
  --delay TIME             delay packets, e.g. 2ms (tc netem)
  --reorder PERCENT        send packets out of order (netem: needs a delay; 1ms if none given)
  --mtu BYTES              the veth MTU (576-65535; rxe uses the largest of 256..4096 that fits)
  --link-down-after TIME   take the link down after TIME (a flap: both ends lose carrier)
  --link-down-for TIME     bring it back up TIME later (default: down until the end)
Guest mode only:
  --timeout SEC     kill the guest after SEC s, exit 124 (default 600)
  --cpus N          vCPUs (default 2)        --mem SIZE   guest memory (default 2G)
  --rw DIR          share DIR read-write (repeatable): every other write in the guest is discarded
  --keep            keep the run directory (kernel log, setup log)
  -i, --interactive connect stdin (a terminal)
  -v, --verbose     say what is being built
TIME is a number with a unit: us, ms, s or m (e.g. 500ms, 2s).

Exit codes: the command's; 2 usage; 77 neither mode can run here (status says why);
124 guest timed out; 125 the harness failed. Details: docs/SOFTROCE.md`;

const SUBCOMMANDS = ["run", "setup", "status", "shell", "clean"] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** Seconds from "500ms", "2s", "1.5m", "250us". */
export function parseTime(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(us|ms|s|m)$/.exec(text);
  if (!match) throw new UsageError(`--${option} ${text}: a number with a unit (us, ms, s, m), e.g. 500ms`, SOFTROCE_HELP);
  const scale = { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[match[2] as "us" | "ms" | "s" | "m"];
  return Number(match[1]) * scale;
}

function percent(text: string, option: string): string {
  const value = Number(text);
  if (text === "" || !Number.isFinite(value) || value < 0 || value > 100) {
    throw new UsageError(`--${option} ${text}: a percentage from 0 to 100`, SOFTROCE_HELP);
  }
  return String(value);
}

function integerIn(text: string | undefined, option: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`--${option} ${text}: an integer from ${min} to ${max}`, SOFTROCE_HELP);
  return value;
}

/** The faults as rxe-pair.sh's variables (seconds with microsecond precision). */
function faultEnv(values: Partial<Record<"loss" | "reorder" | "delay" | "mtu" | "link-down-after" | "link-down-for", string>>): FaultEnv {
  const env: FaultEnv = {};
  const seconds = (s: number): string => s.toFixed(6).replace(/\.?0+$/, "");
  if (values.loss !== undefined) env.SR_LOSS = percent(values.loss, "loss");
  if (values.reorder !== undefined) env.SR_REORDER = percent(values.reorder, "reorder");
  if (values.delay !== undefined) env.SR_DELAY = `${Math.round(parseTime(values.delay, "delay") * 1e6)}us`;
  else if (env.SR_REORDER !== undefined) env.SR_DELAY = "1000us";
  const mtu = integerIn(values.mtu, "mtu", 576, 65535);
  if (mtu !== undefined) env.SR_MTU = String(mtu);
  if (values["link-down-after"] !== undefined) env.SR_DOWN_AFTER = seconds(parseTime(values["link-down-after"], "link-down-after"));
  if (values["link-down-for"] !== undefined) {
    if (env.SR_DOWN_AFTER === undefined) throw new UsageError("--link-down-for needs --link-down-after", SOFTROCE_HELP);
    env.SR_DOWN_FOR = seconds(parseTime(values["link-down-for"], "link-down-for"));
  }
  return env;
}

const OPTIONS = {
  mode: { type: "string" },
  loss: { type: "string" },
  delay: { type: "string" },
  reorder: { type: "string" },
  mtu: { type: "string" },
  "link-down-after": { type: "string" },
  "link-down-for": { type: "string" },
  timeout: { type: "string" },
  cpus: { type: "string" },
  mem: { type: "string" },
  rw: { type: "string", multiple: true },
  keep: { type: "boolean", default: false },
  interactive: { type: "boolean", short: "i", default: false },
  verbose: { type: "boolean", short: "v", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** The guest's cache, as run-in-guest.sh computes it. */
function cacheDir(): string {
  return process.env.SOFTROCE_CACHE ?? `${process.env.XDG_CACHE_HOME ?? `${homedir()}/.cache`}/connect-rdma/softroce`;
}

function describeMode(check: ModeCheck): string {
  return check.available ? `${check.mode} mode: available` : `${check.mode} mode: not available, missing:\n${check.missing.map((m) => `    - ${m}`).join("\n")}`;
}

/** Prints why no mode can run; the exit code for that. */
function unavailable(requested: string, checks: (ModeCheck | undefined)[]): number {
  console.error(`connect-rdma softroce: ${requested === "auto" ? "neither mode can" : `${requested} mode cannot`} run here`);
  for (const check of checks) if (check) console.error(`  ${describeMode(check)}`);
  return 77;
}

function versions(): string {
  const dpkg = spawnSync("dpkg-query", ["-W", "-f", "${Package} ${Version}\\n", "rdma-core", "ibverbs-providers", "iproute2", "qemu-system-x86"], { encoding: "utf8" });
  return dpkg.stdout?.trim().split("\n").filter(Boolean).join(", ") || "(dpkg-query found none of rdma-core, ibverbs-providers, iproute2, qemu-system-x86)";
}

function du(path: string): string {
  return spawnSync("du", ["-sh", path], { encoding: "utf8" }).stdout?.split("\t")[0] ?? "?";
}

function status(mode: SoftRoceMode | "auto"): number {
  const { chosen, host } = chooseMode(mode);
  const guest = guestMode();
  const runs = mode === "auto" ? (host.available ? "host" : guest.available ? "guest" : "none") : chosen.available ? mode : "none";
  console.log(`softroce run would use: ${runs === "none" ? "no mode (see below)" : `${runs} mode`}`);
  console.log(describeMode(host));
  console.log(describeMode(guest));
  const cache = cacheDir();
  const bootEnv = `${cache}/${process.env.SOFTROCE_KERNEL_PKG ?? "linux-image-amd64"}/boot.env`;
  if (existsSync(bootEnv)) {
    const kernel = /^KVER=(\S+)/m.exec(readFileSync(bootEnv, "utf8"))?.[1] ?? "?";
    console.log(`guest cache: ${cache} (${du(cache)}), guest kernel ${kernel}`);
  } else {
    console.log(`guest cache: ${cache}: not prepared (connect-rdma softroce setup --mode guest)`);
  }
  console.log(`running kernel: ${release()}; packages: ${versions()}`);
  const pairs = spawnSync("bash", [`${harnessDir}host-pair.sh`, "list"], { encoding: "utf8" }).stdout?.trim();
  if (pairs) console.log(`host-mode pairs:\n${pairs}`);
  return 0;
}

function setup(mode: SoftRoceMode | "auto", verbose: boolean): number {
  const started = performance.now();
  const { chosen, host, guest } = chooseMode(mode);
  if (!chosen.available) return unavailable(mode, [host, guest]);
  if (chosen.mode === "host") {
    if (!existsSync("/sys/module/rdma_rxe")) {
      const modprobe = spawnSync("modprobe", ["rdma_rxe"], { stdio: "inherit" });
      if (modprobe.status !== 0) return 125;
    }
    console.log("softroce: host mode ready (rdma_rxe loaded; nothing to cache)");
    return 0;
  }
  const prepare = spawnSync("bash", [`${harnessDir}run-in-guest.sh`, "--setup", ...(verbose ? ["-v"] : [])], { stdio: "inherit" });
  if (prepare.status !== 0) return prepare.status ?? 125;
  const cache = cacheDir();
  console.log(`softroce: guest mode ready in ${((performance.now() - started) / 1000).toFixed(1)} s; cache ${cache}: ${du(cache)}`);
  return 0;
}

function clean(): number {
  const pairs = spawnSync("bash", [`${harnessDir}host-pair.sh`, "clean"], { encoding: "utf8" });
  if (pairs.stdout?.trim()) console.log(pairs.stdout.trim());
  const cache = cacheDir();
  if (existsSync(cache)) {
    const size = du(cache);
    rmSync(cache, { recursive: true, force: true });
    console.log(`softroce: removed the guest cache ${cache} (${size})`);
  } else {
    console.log(`softroce: no guest cache at ${cache}`);
  }
  return 0;
}

/** `connect-rdma softroce ...`; resolves with the exit code (or ends by the command's signal). */
export async function softroceCommand(argv: string[]): Promise<number> {
  const split = argv.indexOf("--");
  const own = split === -1 ? argv : argv.slice(0, split);
  const command = split === -1 ? [] : argv.slice(split + 1);
  let parsed;
  try {
    parsed = parseArgs({ args: own, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError((error as Error).message, SOFTROCE_HELP);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(SOFTROCE_HELP);
    return 0;
  }
  const [sub, ...extra] = positionals;
  if (sub === undefined) throw new UsageError("a subcommand is needed: run, setup, status, shell or clean", SOFTROCE_HELP);
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw new UsageError(`unknown subcommand "${sub}"`, SOFTROCE_HELP);
  if (extra.length > 0) throw new UsageError(`unexpected "${extra[0]}": the command goes after --`, SOFTROCE_HELP);
  const mode = choiceOption("--mode", values.mode, ["auto", "host", "guest"] as const, "auto", SOFTROCE_HELP);
  const faults = faultEnv(values);
  const guestOptions: GuestOptions = {
    timeout: integerIn(values.timeout, "timeout", 1, 86400),
    cpus: integerIn(values.cpus, "cpus", 1, 64),
    mem: values.mem,
    rw: values.rw ?? [],
    keep: values.keep,
    interactive: values.interactive,
    verbose: values.verbose,
  };
  switch (sub as Subcommand) {
    case "status":
      return status(mode);
    case "setup":
      return setup(mode, values.verbose);
    case "clean":
      return clean();
    case "shell":
      if (split !== -1) throw new UsageError("shell takes no command", SOFTROCE_HELP);
      command.push(process.env.SHELL ?? "bash");
      guestOptions.interactive = true;
      break;
    case "run":
      if (command.length === 0) throw new UsageError("run needs a command after --", SOFTROCE_HELP);
      break;
  }
  const { chosen, host, guest } = chooseMode(mode, { netem: faults.SR_LOSS !== undefined || faults.SR_DELAY !== undefined });
  if (!chosen.available) return unavailable(mode, [host, guest]);
  const ending = chosen.mode === "host" ? await runOnHost(command, faults) : await runInGuest(command, faults, guestOptions);
  return endLike(ending);
}
