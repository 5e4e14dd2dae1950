// A trap for failures that reach nobody: while installed, every promise rejected with no
// handler attached ("unhandledRejection") and every exception that escapes to the event
// loop ("uncaughtException") is recorded, and check() fails the test naming them. Under
// Node's default --unhandled-rejections=throw either one would kill a user's process.

import { onTestFinished } from "vitest";

export interface UnhandledTrap {
  /** Lets late failures surface (a few event-loop turns), then throws if anything escaped. */
  check(): Promise<void>;
}

/** Installs the trap for the rest of the current test (removed when it finishes). */
export function trapUnhandled(): UnhandledTrap {
  const escaped: string[] = [];
  const onRejection = (reason: unknown): void => {
    escaped.push(`unhandled rejection: ${describe(reason)}`);
  };
  const onException = (error: unknown): void => {
    escaped.push(`uncaught exception: ${describe(error)}`);
  };
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  onTestFinished(() => {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  });
  return {
    async check() {
      // Node reports a rejection once the microtask queue drained after the turn it
      // happened in: a few turns and a timer phase later, every earlier one is known.
      for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
      await new Promise<void>((resolve) => setTimeout(resolve, 20));
      if (escaped.length > 0) throw new Error(`failures reached nobody:\n${escaped.join("\n")}`);
    },
  };
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ""}` : String(e);
}
