// The `connect-rdma` command (bin/connect-rdma.js runs main()): dispatches to doctor,
// bench (in a source checkout only), serve, call and softroce, prints help, and turns failures into exit codes — 2 for a bad
// command line (with that command's help), 1 for an error, else what the command says.
import { existsSync } from "node:fs";

import { BENCH_HELP, benchCommand } from "./bench.js";
import { CALL_HELP, callCommand } from "./call.js";
import { DOCTOR_HELP, doctorCommand } from "./doctor.js";
import { UsageError, packageRoot, packageVersion } from "./format.js";
import { SERVE_HELP, serveCommand } from "./serve.js";
import { SOFTROCE_HELP, softroceCommand } from "./softroce.js";

/** The benchmark suite is in the source checkout only; an installed package does not offer it. */
const hasBenchSuite = existsSync(`${packageRoot}bench/echo.js`);

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string; line: string }> = {
  doctor: { run: doctorCommand, help: DOCTOR_HELP, line: "doctor             what this machine can use: io_uring, memlock, RDMA devices, engine choice" },
  ...(hasBenchSuite ? { bench: { run: benchCommand, help: BENCH_HELP, line: "bench              run the benchmark suite of this source checkout" } } : {}),
  serve: { run: serveCommand, help: SERVE_HELP, line: "serve [URL]        serve an echo Connect service (default tcp://127.0.0.1:0; tcp://0.0.0.0:7000 for other hosts)" },
  call: { run: callCommand, help: CALL_HELP, line: "call URL           call it from another host and print round-trip latencies" },
  softroce: { run: softroceCommand, help: SOFTROCE_HELP, line: "softroce run -- …  run a command with two linked soft-RoCE devices (also setup, status, shell, clean)" },
};

export const MAIN_HELP = `usage: connect-rdma <command> [options]

Commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.line}`)
  .join("\n")}
  help [command]     help of a command (or: connect-rdma <command> --help)

Options: --help, --version`;

/** "unknown command" with the reason when the command exists only in a source checkout. */
function unknownCommand(name: string): string {
  const why = name === "bench" ? " (the benchmark suite ships with the source checkout, not the npm package)" : "";
  return `connect-rdma: unknown command "${name}"${why}\n\n${MAIN_HELP}`;
}

/** Runs the command line (without node and script); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h") {
    console.log(MAIN_HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-v") {
    console.log(packageVersion());
    return 0;
  }
  if (name === "help") {
    const topic = rest[0];
    const command = topic !== undefined ? COMMANDS[topic] : undefined;
    if (topic !== undefined && command === undefined) {
      console.error(unknownCommand(topic));
      return 2;
    }
    console.log(command?.help ?? MAIN_HELP);
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    console.error(unknownCommand(name));
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`connect-rdma ${name}: ${error.message}\n\n${error.help}`);
      return 2;
    }
    const e = error as Error & { code?: unknown };
    console.error(`connect-rdma ${name}: ${e.message}${typeof e.code === "string" ? ` (${e.code})` : ""}`);
    if (process.env.CONNECT_RDMA_DEBUG) console.error(e.stack);
    return 1;
  }
}
