#!/usr/bin/env node
// The `connect-rdma` command (package.json "bin"): runs the CLI compiled from src/cli/
// into dist/cli/ and exits with its code. Subcommands: doctor, bench, serve, call, softroce.
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
