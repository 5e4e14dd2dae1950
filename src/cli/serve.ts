// `connect-rdma serve [URL]`: serves the CLI's echo service (echo-service.ts) until SIGINT
// or SIGTERM (or --exit-after-ms), then closes gracefully and prints the server's
// stats(). The first line of output names the bound URL and the engine — what
// `connect-rdma call` on the other host needs, and what the CLI test parses. Without a URL
// it listens on loopback only (DEFAULT_SERVE_URL): reaching other hosts takes a URL that
// names an address they can reach, so exposing the service is always spelled out.
import { parseArgs } from "node:util";

import { createServer, type Server } from "../index.js";
import { ENGINE_CHOICES, echoRoutes, engineFor } from "./echo-service.js";
import { UsageError, bytes, choiceOption, integerOption } from "./format.js";

/** Where `serve` listens when no URL is given: loopback, any free port. */
export const DEFAULT_SERVE_URL = "tcp://127.0.0.1:0";

export const SERVE_HELP = `usage: connect-rdma serve [URL] [options]

Serves an echo Connect service (connectrdma.cli.v1.EchoService) for a quick check
between two hosts: run this on one, \`connect-rdma call\` on the other. Runs until
SIGINT/SIGTERM, then prints the server's counters.

  URL                      tcp://host:port, unix:///path or rdma://ip:port (port 0: any free port);
                           default ${DEFAULT_SERVE_URL}: this host only (loopback).
                           Other hosts can connect only when the URL names an address they
                           reach, e.g. tcp://0.0.0.0:7000 (every interface) or rdma://10.0.0.2:7000
                           (the RDMA device's address): the echo service has no authentication,
                           and such a listen warns (CONNECT_RDMA_UNPROTECTED).
  --engine auto|uring|net  engine for tcp:// and unix:// (default auto: io_uring when usable)
  --poll event|spin        completion polling (default event; spin busy-polls, see docs/TUNING.md)
  --exit-after-ms MS       stop by itself after MS milliseconds (default: run until a signal)
  --help                   this text`;

function summary(server: Server): string {
  const s = server.stats();
  return (
    `served ${s.callsStarted} call(s): ${s.messagesIn} message(s) in (${bytes(s.bytesIn)}), ${s.messagesOut} out (${bytes(s.bytesOut)}); ` +
    `wire ${bytes(s.wireBytesIn)} in / ${bytes(s.wireBytesOut)} out; copies ${s.copies}; reassembled frames ${s.reassembled}`
  );
}

/** Resolves with the exit code once the server stopped. */
export async function serveCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        engine: { type: "string" },
        poll: { type: "string" },
        "exit-after-ms": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, SERVE_HELP);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError("serve takes at most one URL", SERVE_HELP);
  const url = positionals[0] ?? DEFAULT_SERVE_URL;
  const engineChoice = choiceOption("--engine", values.engine, ENGINE_CHOICES, "auto", SERVE_HELP);
  const poll = choiceOption("--poll", values.poll, ["event", "spin"] as const, "event", SERVE_HELP);
  const exitAfterMs = integerOption("--exit-after-ms", values["exit-after-ms"], 0, SERVE_HELP);

  const engine = engineFor(url, engineChoice);
  const server = createServer({ routes: echoRoutes(engine), engine: engineChoice, poll });
  const bound = await server.listen(url);
  console.log(`listening on ${bound} (engine ${engine.engine}${engine.reason ? `: ${engine.reason}` : ""}, poll ${poll})`);
  console.log("serving connectrdma.cli.v1.EchoService; stop with Ctrl-C (SIGINT) or SIGTERM");

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      clearTimeout(timer);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    const timer = exitAfterMs > 0 ? setTimeout(stop, exitAfterMs) : undefined;
  });
  await server.close(1000);
  console.log(summary(server));
  return 0;
}
