// The shape of one doctor check (its id, status, summary, details and fixing hints) and
// the file reader the checks share: a missing or unreadable file is undefined, not an error.
import { readFileSync } from "node:fs";

/** How a check came out. "info" never counts as a problem. */
export type CheckStatus = "ok" | "info" | "warn" | "fail";

/** One line of the report. */
export interface Check {
  id: "platform" | "addon" | "kernel" | "io_uring" | "engine" | "tls" | "memlock" | "rdma" | "softroce" | "cpus";
  status: CheckStatus;
  summary: string;
  /** Extra lines (device tables, values read). */
  details: string[];
  /** Commands or steps that fix a problem. */
  hints: string[];
}

/** The text of a file, or undefined when it cannot be read. */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
