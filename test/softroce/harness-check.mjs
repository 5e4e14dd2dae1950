// Runs inside the soft-RoCE guest, after guest-check.mjs (softroce.test.ts boots the guest
// once for both): checks `connect-rdma softroce` itself. In guest mode: the variables,
// cwd and the link's faults the host asked for. In host mode, for real on the guest's
// kernel (it has rdma_rxe): chosen automatically, a pair of its own beside the guest's,
// exit code, stdin and a signal passed through, the pair removed after a normal exit, a
// crash, Ctrl-C, and reclaimed after the harness itself was killed; the missing right
// named for an unprivileged user; a Connect program over rdma://; the pair's route back
// after a flap that ends; RDMA transport tests under 1 % loss; a link flap. Prints one HARNESS_CHECK {json} line; asserts nothing
// (the host-side test does).
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = `${root}bin/connect-rdma.js`;
const report = {};
const sh = (command) => spawnSync("sh", ["-c", command], { encoding: "utf8" }).stdout.trim();
/** `connect-rdma softroce ARGS` with stdout and stderr captured. */
const cli = (args, options = {}) => {
  const started = performance.now();
  const r = spawnSync(process.execPath, [bin, "softroce", ...args], { cwd: root, encoding: "utf8", timeout: 900_000, ...options });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.slice(-3000), seconds: Number(((performance.now() - started) / 1000).toFixed(2)) };
};
/** What is left of host-mode pair 1 (the first free one: the guest's own devices hold pair 0's addresses). */
const leftovers = () => ({
  netdev: existsSync("/sys/class/net/srveth2"),
  rxe: sh("rdma link show").includes("srxe2"),
  rules: sh("ip rule").includes("10.77.0.3"),
  address: sh("ip -o addr").includes("10.77.0.3"),
});
const step = async (name, body) => {
  try {
    report[name] = await body();
  } catch (error) {
    report[name] = { error: String(error?.stack ?? error) };
  }
};

await step("guest", () => ({
  env: Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith("SOFTROCE_") && name !== "SOFTROCE_RUNDIR")),
  cwd: process.cwd(),
  qdisc: sh("tc qdisc show dev veth0"),
  link: sh("ip -o link show veth0"),
}));

const probe = `node -e 'const {execSync: x} = require("node:child_process"); console.log(JSON.stringify({env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("SOFTROCE"))), cwd: process.cwd(), links: x("rdma link show").toString(), rules: x("ip rule").toString()}))'`;
await step("hostRun", () => {
  const r = cli(["run", "--", "sh", "-c", probe]);
  return { ...r, seen: r.status === 0 ? JSON.parse(r.stdout) : undefined, after: leftovers() };
});
await step("exitCode", () => ({ ...cli(["run", "--", "sh", "-c", "exit 7"]), after: leftovers() }));
await step("stdin", () => cli(["run", "--", "cat"], { input: "hello over stdin\n" }));
await step("crash", () => ({ ...cli(["run", "--", "sh", "-c", "kill -SEGV $$"]), after: leftovers() }));

/** Starts `softroce run -- sleep 60` in its own process group; resolves once its pair exists. */
async function sleeper() {
  const child = spawn(process.execPath, [bin, "softroce", "run", "--", "sleep", "60"], { cwd: root, detached: true, stdio: "ignore" });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  for (let i = 0; i < 400 && !leftovers().rxe; i++) await sleep(25);
  return { child, exited, pairSeen: leftovers().rxe };
}
await step("ctrlC", async () => {
  const { child, exited, pairSeen } = await sleeper();
  const sent = performance.now();
  process.kill(-child.pid, "SIGINT"); // as a terminal's Ctrl-C does: the whole process group
  const ending = await Promise.race([exited, sleep(20_000).then(() => "hung")]);
  return { pairSeen, ending, seconds: Number(((performance.now() - sent) / 1000).toFixed(2)), after: leftovers() };
});
await step("killed", async () => {
  const { child, exited, pairSeen } = await sleeper();
  process.kill(child.pid, "SIGKILL"); // the harness itself dies: its pair stays behind...
  await exited;
  const left = leftovers();
  process.kill(-child.pid, "SIGKILL"); // (the orphaned sleep)
  const next = cli(["run", "--", "sh", "-c", "echo $SOFTROCE_SERVER_IP"]); // ...until the next run takes it back
  return { pairSeen, left, next, after: leftovers() };
});
await step("unprivileged", () => {
  const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, bin, "softroce", "run", "--mode", "host", "--", "true"], { cwd: root, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stderr: r.stderr, error: r.error?.message };
});
await step("program", () => cli(["run", "--", "node", "examples/softroce/rdma-quote.mjs"]));
// A flap that ends (--link-down-for): the client netdev seen down, then up, and the route
// from the client address to the server's through it again (the kernel deletes the routes
// through a device taken down; without them the route is "local ... dev lo").
const flapBack = [
  'state() { cat "/sys/class/net/$SOFTROCE_CLIENT_NETDEV/operstate"; }',
  'i=0; while [ "$(state)" != down ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done; state',
  'i=0; while [ "$(state)" != up ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done; state',
  'sleep 1; ip route get "$SOFTROCE_SERVER_IP" from "$SOFTROCE_CLIENT_IP" | head -n1',
].join("\n");
await step("flapBack", () => cli(["run", "--link-down-after", "5s", "--link-down-for", "3s", "--", "sh", "-c", flapBack]));
/** The RDMA transport suite (its tests matching `only`, else all) under `--loss 1`. */
function lossRun(only) {
  // Never the "deadlines and cancellation" group: it asserts sub-second timings (a 200 ms
  // deadline that must see a streamed message first), and one lost packet costs rxe a
  // retransmit timeout longer than that (rdma_cm's default for RoCE, ~0.5 s).
  const pattern = only ?? "^(?!.*deadlines and cancellation)";
  const suite = `npx --no-install vitest run test/rdma/transport.test.ts -t '${pattern}' 2>&1 | cat`;
  const r = cli(["run", "--loss", "1", "--", "bash", "-c", `set -o pipefail; tc qdisc show dev "$SOFTROCE_SERVER_NETDEV"; ${suite}`], {
    env: { ...process.env, CONNECT_RDMA_REQUIRE: "1" },
  });
  // Colours stripped first: vitest may colour its output even into a pipe (FORCE_COLOR
  // comes through the harness with the rest of the environment).
  const lines = r.stdout.replace(/\x1b\[[0-9;]*m/g, "").split("\n");
  return {
    status: r.status,
    seconds: r.seconds,
    qdisc: lines[0],
    summary: lines.filter((l) => /^\s*(Test Files|Tests)\s/.test(l)).map((l) => l.trim()),
    failed: lines.filter((l) => /^\s*(×|FAIL)\s/.test(l)).slice(0, 20),
    stderr: r.stderr,
  };
}

/** test/softroce/link-flap.mjs under `softroce run ARGS`, with `env` added; its LINK_FLAP report. */
function flapRun(args, env) {
  const r = cli(["run", ...args, "--", "node", "test/softroce/link-flap.mjs"], { timeout: 400_000, env: { ...process.env, ...env } });
  const line = r.stdout.split("\n").find((l) => l.startsWith("LINK_FLAP "));
  return { status: r.status, signal: r.signal, seconds: r.seconds, flap: line ? JSON.parse(line.slice(10)) : undefined, stderr: r.stderr, after: leftovers() };
}

// The link faults in full (the whole transport suite under loss, a flap timed by the
// harness) take most of a guest run's time (~11 minutes here for the loss run alone):
// `npm run test:softroce:faults` runs them. npm test runs quick ones: the RPC kinds and
// flow control under 1 % loss, and a flap the program makes itself once calls went through.
await step("lossQuick", () => lossRun("RPC kinds|multiplexing and flow control"));
await step("flapQuick", () => flapRun([], { LINK_FLAP_SELF: "1" }));
const linkFaults = process.env.SOFTROCE_LINK_FAULTS === "1";
if (linkFaults) await step("loss", () => lossRun(undefined));
// 90 s: under TCG on a loaded host the program started 33 s after the harness and had not
// finished a call 12 s later (a 45 s flap came before any call): the flap must come when
// calls are going.
if (linkFaults) await step("flap", () => flapRun(["--link-down-after", "90s"], {}));

console.log(`HARNESS_CHECK ${JSON.stringify(report)}`);
