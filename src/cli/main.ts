// The `connect-rdma` command (bin/connect-rdma.js runs main()): dispatches to doctor,
// bench (in a source checkout only), serve, call and softroce, prints help, and turns failures into exit codes — 2 for a bad
// command line (with that command's help), 1 for an error, else what the command says.
import { existsSync } from "node:fs";

import { UsageError, packageRoot, packageVersion } from "./format.js";

/** The benchmark suite is in the source checkout only; an installed package does not offer it. */
const hasBenchSuite = existsSync(`${packageRoot}bench/echo.js`);

interface Command {
  run(argv: string[]): Promise<number>;
  help: string;
}

// Each command's module is imported when that command runs: `softroce` must not pay for
// loading the transport and Connect (a second of a warm `softroce run` on a slow host).
const COMMANDS: Record<string, { load: () => Promise<Command>; line: string }> = {
  doctor: { load: async () => { const m = await import("./doctor.js"); return { run: m.doctorCommand, help: m.DOCTOR_HELP }; }, line: "doctor             what this machine can use: io_uring, memlock, RDMA devices, engine choice" },
  ...(hasBenchSuite ? { bench: { load: async () => { const m = await import("./bench.js"); return { run: m.benchCommand, help: m.BENCH_HELP }; }, line: "bench              run the benchmark suite of this source checkout" } } : {}),
  serve: { load: async () => { const m = await import("./serve.js"); return { run: m.serveCommand, help: m.SERVE_HELP }; }, line: "serve [URL]        serve an echo Connect service (default tcp://127.0.0.1:0; tcp://0.0.0.0:7000 for other hosts)" },
  call: { load: async () => { const m = await import("./call.js"); return { run: m.callCommand, help: m.CALL_HELP }; }, line: "call URL           call it from another host and print round-trip latencies" },
  softroce: { load: async () => { const m = await import("./softroce.js"); return { run: m.softroceCommand, help: m.SOFTROCE_HELP }; }, line: "softroce run -- …  run a command with two linked soft-RoCE devices (also setup, status, shell, clean)" },
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
    console.log(command === undefined ? MAIN_HELP : (await command.load()).help);
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    console.error(unknownCommand(name));
    return 2;
  }
  try {
    return await (await command.load()).run(rest);
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
