// npm test: runs the whole vitest suite and ends with one plain summary line that any CI
// log reader understands ("Tests: N passed, N failed, N skipped"), exiting non-zero when
// anything failed. Extra arguments go to vitest (e.g. a directory to run only that part).
//
// Two passes, each announced by a "[tests] pass i/n: <build>" line and closed by its own
// counts line (which never starts with "Tests:", so the last line stays the only summary):
//   1. the normal addon (build/);
//   2. under CI=true (or CONNECT_RDMA_ASAN=1; CONNECT_RDMA_ASAN=0 turns it off): the addon
//      built with AddressSanitizer + UndefinedBehaviorSanitizer (scripts/test-asan.sh, the
//      same suite minus test/softroce and test/package; about 6 minutes here). A sanitizer
//      report fails that pass even when every test passed: it counts as one failed test.
// The summary line adds both passes up and names each pass's counts in parentheses.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";

const extra = process.argv.slice(2);
const asanSetting = process.env.CONNECT_RDMA_ASAN;
const withAsan = asanSetting === "1" || (asanSetting !== "0" && process.env.CI === "true");

const passes = [
  {
    label: "normal build",
    report: ".cache/vitest-report.json",
    command: process.execPath,
    args: (json) => ["node_modules/vitest/vitest.mjs", "run", ...json, ...extra],
  },
];
if (withAsan) {
  passes.push({
    label: "ASan+UBSan build",
    report: ".cache/vitest-asan-report.json",
    command: "bash",
    // --passWithNoTests: arguments that select only parts the ASan pass excludes.
    args: (json) => ["scripts/test-asan.sh", ...json, "--passWithNoTests", ...extra],
  });
}

mkdirSync(".cache", { recursive: true });
const results = passes.map((pass, i) => {
  console.log(`[tests] pass ${i + 1}/${passes.length}: ${pass.label}`);
  const started = Date.now();
  rmSync(pass.report, { force: true });
  const json = ["--reporter=default", "--reporter=json", `--outputFile.json=${pass.report}`];
  const run = spawnSync(pass.command, pass.args(json), { stdio: "inherit" });
  const result = counts(pass.report, run.status ?? 1);
  const seconds = Math.round((Date.now() - started) / 1000);
  console.log(`[tests] pass ${i + 1}/${passes.length} (${pass.label}, ${seconds} s): ${format(result)}`);
  return { ...result, label: pass.label, status: run.status ?? 1 };
});

const total = { passed: 0, failed: 0, skipped: 0 };
for (const r of results) {
  total.passed += r.passed;
  total.failed += r.failed;
  total.skipped += r.skipped;
}
let summary = `Tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`;
const notes = results.filter((r) => r.note).map((r) => `${r.label}: ${r.note}`);
if (results.length > 1) {
  summary += ` (${results.map((r) => `${r.label}: ${r.passed}/${r.failed}/${r.skipped}`).join(", ")}${notes.length ? `; ${notes.join("; ")}` : ""})`;
} else if (notes.length) {
  summary += ` (${results[0].note})`;
}
console.log(summary);
process.exit(results.find((r) => r.status !== 0)?.status ?? 0);

/** The counts of one pass from vitest's JSON report; a pass that failed without failing tests counts one failure. */
function counts(report, status) {
  let r;
  try {
    r = JSON.parse(readFileSync(report, "utf8"));
  } catch {
    return { passed: 0, failed: 1, skipped: 0, note: `vitest wrote no report (exit code ${status})` };
  }
  const result = {
    passed: r.numPassedTests,
    failed: r.numFailedTests,
    skipped: (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0),
    note: undefined,
  };
  if (r.numFailedTestSuites > 0 && r.numFailedTests === 0) {
    result.note = `${r.numFailedTestSuites} test files failed to run`;
  } else if (status !== 0 && r.numFailedTests === 0) {
    // Every test passed but the pass did not: sanitizer reports (scripts/test-asan.sh prints them).
    result.failed = 1;
    result.note = `exit code ${status} with no failed test (sanitizer reports?)`;
  }
  return result;
}

function format(r) {
  return `${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${r.note ? ` (${r.note})` : ""}`;
}
