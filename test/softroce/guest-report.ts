// What rdma-suite.test.ts checks in the JSON report of the in-guest vitest run beyond file
// status (vitest marks a file whose tests were all skipped as "passed"): files without a
// passed test, and skips that docs/SOFTROCE.md does not list ("Skips the guest run
// allows") or that it lists but did not happen. Pure functions of the report and the doc.
import { readFileSync } from "node:fs";

/** vitest's JSON report (Jest's format), the parts read here. */
export interface Summary {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTotalTestSuites: number;
  numFailedTestSuites: number;
  testResults: { name: string; status: string; message?: string; assertionResults: { fullName: string; status: string }[] }[];
}

/** One allowed skip: a test file and a fragment of the skipped test's full name. */
export interface AllowedSkip {
  file: string;
  fragment: string;
}

/** The skips docs/SOFTROCE.md allows, from its table (file and fragment, both backticked). */
export function documentedSkips(root: string): AllowedSkip[] {
  const doc = readFileSync(`${root}docs/SOFTROCE.md`, "utf8");
  const start = doc.indexOf("\n## Skips the guest run allows");
  if (start < 0) throw new Error('docs/SOFTROCE.md has no "## Skips the guest run allows" section');
  const section = doc.slice(start + 1).split(/\n## /)[0]!;
  return [...section.matchAll(/^\| `([^`]+)` \| `([^`]+)` \|/gm)].map((m) => ({ file: m[1]!, fragment: m[2]! }));
}

/** Report file name relative to the checkout: ".../test/rdma/x.test.ts" -> "test/rdma/x.test.ts". */
function relative(name: string): string {
  return name.slice(name.indexOf("/test/") + 1);
}

/** Of `files`, those the report has no passed test in (absent, all skipped, or all failed). */
export function filesWithoutPassedTests(report: Summary, files: string[]): string[] {
  const passed = new Map(report.testResults.map((r) => [relative(r.name), r.assertionResults.filter((t) => t.status === "passed").length]));
  return files.filter((file) => (passed.get(file) ?? 0) === 0);
}

/** Skipped tests ("file: full name") no allowed row matches, and allowed rows no skipped test matches. */
export function skipProblems(report: Summary, allowed: AllowedSkip[]): { undocumented: string[]; absent: AllowedSkip[] } {
  const skipped: string[] = [];
  for (const r of report.testResults) {
    for (const t of r.assertionResults) if (t.status !== "passed" && t.status !== "failed") skipped.push(`${relative(r.name)}: ${t.fullName}`);
  }
  const matches = (test: string, row: AllowedSkip): boolean => test.startsWith(`${row.file}: `) && test.includes(row.fragment);
  return {
    undocumented: skipped.filter((test) => !allowed.some((row) => matches(test, row))),
    absent: allowed.filter((row) => skipped.filter((test) => matches(test, row)).length !== 1),
  };
}
