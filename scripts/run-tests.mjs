// Runs the whole vitest suite and ends with one plain summary line that any CI log
// reader understands ("Tests: N passed, N failed, N skipped"), exiting with vitest's code.
// Extra arguments go to vitest (e.g. a directory to run only that part).
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";

const report = ".cache/vitest-report.json";
mkdirSync(".cache", { recursive: true });
rmSync(report, { force: true });
const run = spawnSync(
  process.execPath,
  ["node_modules/vitest/vitest.mjs", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: "inherit" },
);
let summary = "Tests: 0 passed, 1 failed (vitest wrote no report)";
try {
  const r = JSON.parse(readFileSync(report, "utf8"));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  summary = `Tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`;
  if (r.numFailedTestSuites > 0 && r.numFailedTests === 0) summary += ` (${r.numFailedTestSuites} test files failed to run)`;
} catch {
  // keep the failure line above
}
console.log(summary);
process.exit(run.status ?? 1);
