// `connect-rdma bench`: runs the benchmark suite of a source checkout — bench/echo.js
// (channel echo) and bench/connect.js (Connect RPC against connect-node and grpc-js) —
// one after the other, passing the remaining arguments through; `bench stream` runs
// bench/connect.js --workload stream (server streaming) alone. The suite is not part
// of the npm package: main.ts offers this command only where bench/ exists.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

import { packageRoot } from "./format.js";

export const BENCH_HELP = `usage: connect-rdma bench [echo|connect|stream] [args...]

Runs the benchmark suite of a source checkout of connect-rdma (the bench/ directory;
the npm package does not ship it): bench/echo.js (channel echo: raw node:net, io_uring
event/spin, Unix, node:net engine) and bench/connect.js (unary Connect RPC: ours vs
connect-node HTTP/2 and grpc-js). Results: a table on stdout, JSON + SVG in bench/results/.

  echo | connect   run only that benchmark (default: both, echo first)
  stream           server streaming, 64 B and 64 KiB messages (bench/connect.js
                   --workload stream; not part of the default run)
  args...          passed to each benchmark, e.g. --quick, --reps 3, --no-pin
                   (options of one: connect-rdma bench echo --help)
  --help           this text

Benchmarks load the machine: run them on an otherwise idle box (see bench/README.md).`;

const SUITES = { echo: "bench/echo.js", connect: "bench/connect.js", stream: "bench/connect.js" } as const;
const SUITE_ARGS: Record<Suite, string[]> = { echo: [], connect: [], stream: ["--workload", "stream"] };
type Suite = keyof typeof SUITES;

function runNode(script: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: "inherit", cwd: packageRoot });
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** Resolves with the exit code of the first benchmark that failed, else 0. */
export async function benchCommand(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === "--help" || first === "-h") {
    console.log(BENCH_HELP);
    return 0;
  }
  const only = first === "echo" || first === "connect" || first === "stream" ? (first as Suite) : undefined;
  const args = only ? argv.slice(1) : argv;
  const suites: Suite[] = only ? [only] : ["echo", "connect"];
  const present = suites.filter((s) => existsSync(`${packageRoot}${SUITES[s]}`));
  if (present.length === 0) {
    console.error(
      `connect-rdma bench: no benchmark suite here (${suites.map((s) => SUITES[s]).join(", ")} not found under ${packageRoot}).\n` +
        "The suite lives in the source checkout, not in the npm package: clone the repository, run npm install, then npm run bench.",
    );
    return 1;
  }
  for (const suite of present) {
    if (present.length > 1) console.log(`\n== connect-rdma bench: ${SUITES[suite]} ${args.join(" ")}`.trimEnd());
    const code = await runNode(`${packageRoot}${SUITES[suite]}`, [...SUITE_ARGS[suite], ...args]);
    if (code !== 0) return code;
  }
  return 0;
}
