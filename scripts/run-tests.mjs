// npm test: runs the whole vitest suite and ends with one plain summary line that any CI
// log reader understands ("Tests: N passed, N failed, N skipped"), exiting non-zero when
// anything failed. Extra arguments go to vitest (e.g. a directory to run only that part).
//
// Passes, each announced by a "[tests] pass i/n: <what>" line and closed by its own
// counts line (which never starts with "Tests:", so the last line stays the only summary):
//   1. the normal addon (build/): a whole run (no extra arguments) runs the host's files
//      first, then the files that boot the soft-RoCE guest as a pass of their own
//      (GUEST_FILES); with arguments, what they select in one pass;
//   2. under CI=true (or CONNECT_RDMA_ASAN=1; CONNECT_RDMA_ASAN=0 turns it off): the addon
//      built with AddressSanitizer + UndefinedBehaviorSanitizer (scripts/test-asan.sh, the
//      same suite minus the soft-RoCE guest runs and test/package). A sanitizer report
//      fails that pass even when every test passed: it counts as one failed test. So does
//      a run in which test/loaded-addon.test.ts did not prove the sanitized addon was loaded.
//   3. with pass 2, for a whole run: the RDMA channel suite in the soft-RoCE guest against
//      that sanitized build (test/softroce/rdma-suite.test.ts with CONNECT_RDMA_ASAN_RDMA=1,
//      what `npm run test:asan:rdma` runs alone);
//   4. under CI=true (or CONNECT_RDMA_FUZZ=1; CONNECT_RDMA_FUZZ=0 turns it off), and only
//      for a whole run (no extra arguments): the fuzz targets (fuzz/run.sh --runs), built
//      with ASan+UBSan, each replaying fuzz/corpus and fuzzing FUZZ_RUNS inputs; each target
//      counts as one test, failed by a build error, a crash or a sanitizer report.
// The summary line adds the passes up and names each pass's counts in parentheses.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";

const extra = process.argv.slice(2);
const ci = process.env.CI === "true";
/** On under CI=true unless the variable says 0; on anywhere when it says 1. */
const enabled = (setting) => setting === "1" || (setting !== "0" && ci);
const FUZZ_RUNS = 20_000;

/**
 * The test files that boot the soft-RoCE guest (QEMU/TCG takes both cores for minutes).
 * A whole run gives them a pass of their own after the host's files: beside them, the
 * guest's rxe links dropped packets and its runs hit their time limit, and the host's
 * timing-sensitive tests lost their CPU.
 */
const GUEST_FILES = ["test/softroce/rdma-suite.test.ts", "test/softroce/softroce.test.ts", "test/softroce/package.test.ts"];
const vitest = (report, args) => ["node_modules/vitest/vitest.mjs", "run", ...vitestReport(report), ...args];

const passes =
  extra.length > 0
    ? [{ label: "normal build", report: ".cache/vitest-report.json", command: process.execPath, args: (report) => vitest(report, extra), counts: vitestCounts }]
    : [
        {
          label: "normal build",
          report: ".cache/vitest-report.json",
          command: process.execPath,
          args: (report) => vitest(report, GUEST_FILES.flatMap((file) => ["--exclude", file])),
          counts: vitestCounts,
        },
        {
          label: "soft-RoCE guest",
          report: ".cache/vitest-guest-report.json",
          command: process.execPath,
          args: (report) => vitest(report, GUEST_FILES),
          counts: vitestCounts,
        },
      ];
if (enabled(process.env.CONNECT_RDMA_ASAN)) {
  passes.push({
    label: "ASan+UBSan build",
    report: ".cache/vitest-asan-report.json",
    command: "bash",
    // --passWithNoTests: arguments that select only parts the ASan pass excludes.
    args: (report) => ["scripts/test-asan.sh", ...vitestReport(report), "--passWithNoTests", ...extra],
    counts: (report, status) => requireSanitizedAddon(vitestCounts(report, status), report),
  });
}
if (enabled(process.env.CONNECT_RDMA_ASAN) && extra.length === 0) {
  // The RDMA engine's native code under the sanitizers: the channel suite in the soft-RoCE
  // guest against build-asan (docs/SOFTROCE.md, "Under the sanitizers"). A pass of its own,
  // after the host's ASan pass: the guest takes both cores, and timing-sensitive host tests
  // must not run beside it.
  passes.push({
    label: "RDMA under ASan+UBSan (guest)",
    report: ".cache/vitest-asan-rdma-report.json",
    command: "bash",
    env: { CONNECT_RDMA_ASAN_RDMA: "1" },
    args: (report) => ["scripts/test-asan.sh", ...vitestReport(report), "test/softroce/rdma-suite.test.ts"],
    counts: vitestCounts,
  });
}
if (enabled(process.env.CONNECT_RDMA_FUZZ) && extra.length === 0) {
  passes.push({
    label: "fuzz targets",
    report: ".cache/fuzz-report.txt",
    command: "bash",
    args: (report) => ["fuzz/run.sh", "--runs", String(FUZZ_RUNS), "--report", report],
    counts: fuzzCounts,
  });
}

mkdirSync(".cache", { recursive: true });
const results = passes.map((pass, i) => {
  console.log(`[tests] pass ${i + 1}/${passes.length}: ${pass.label}`);
  const started = Date.now();
  rmSync(pass.report, { force: true });
  const run = spawnSync(pass.command, pass.args(pass.report), { stdio: "inherit", env: { ...process.env, ...pass.env } });
  const result = pass.counts(pass.report, run.status ?? 1);
  const seconds = Math.round((Date.now() - started) / 1000);
  console.log(`[tests] pass ${i + 1}/${passes.length} (${pass.label}, ${seconds} s): ${format(result)}`);
  const status = run.status !== 0 ? (run.status ?? 1) : result.failed > 0 ? 1 : 0;
  return { ...result, label: pass.label, status };
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
// CI logs are often read from the tail: name every failure right above the summary.
for (const r of results) {
  for (const f of r.failures ?? []) console.log(`[tests] FAILED (${r.label}) ${f}`);
}
console.log(summary);
process.exit(results.find((r) => r.status !== 0)?.status ?? 0);

function vitestReport(report) {
  return ["--reporter=default", "--reporter=json", `--outputFile.json=${report}`];
}

/** The counts of one pass from vitest's JSON report; a pass that failed without failing tests counts one failure. */
function vitestCounts(report, status) {
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
    failures: vitestFailures(r),
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

/** "file > test: first line of the failure" for each failed test or file that failed to run. */
function vitestFailures(r) {
  const cwd = process.cwd() + "/";
  const firstLine = (messages) => String(messages?.[0] ?? "").split("\n").find((l) => l.trim()) ?? "";
  const out = [];
  for (const file of r.testResults ?? []) {
    const name = String(file.name).replace(cwd, "");
    const failed = (file.assertionResults ?? []).filter((t) => t.status === "failed");
    for (const t of failed) out.push(`${name} > ${t.fullName}: ${firstLine(t.failureMessages).slice(0, 300)}`);
    if (failed.length === 0 && file.status === "failed") out.push(`${name}: ${firstLine([file.message]).slice(0, 300)}`);
  }
  return out;
}

/**
 * The sanitizer pass counts only when test/loaded-addon.test.ts proved that build-asan's
 * instrumented addon was the one loaded (a whole run; a selected part may leave that file out).
 */
function requireSanitizedAddon(result, report) {
  if (extra.length > 0 || result.failed > 0) return result;
  let proved = false;
  try {
    const r = JSON.parse(readFileSync(report, "utf8"));
    proved = r.testResults.some(
      (file) =>
        file.name.endsWith("/test/loaded-addon.test.ts") &&
        file.assertionResults.some((t) => t.title.startsWith("sanitizer pass:") && t.status === "passed"),
    );
  } catch {
    proved = false;
  }
  if (proved) return result;
  return { ...result, failed: 1, note: "test/loaded-addon.test.ts did not prove the sanitized addon was loaded" };
}

/** The fuzz pass: one test per target from fuzz/run.sh's report ("<target> <ok|failed> <replayed> <fuzzed>"). */
function fuzzCounts(report, status) {
  let lines = [];
  try {
    lines = readFileSync(report, "utf8").trim().split("\n").filter(Boolean);
  } catch {
    // no report: counted below
  }
  const targets = lines.map((line) => line.split(" ")).map(([name, verdict, replayed, fuzzed]) => ({ name, verdict, replayed: Number(replayed), fuzzed: Number(fuzzed) }));
  const ok = targets.filter((t) => t.verdict === "ok" && t.replayed > 0 && t.fuzzed >= FUZZ_RUNS);
  const result = { passed: ok.length, failed: targets.length - ok.length, skipped: 0, note: undefined };
  const replayed = targets.reduce((n, t) => n + t.replayed, 0);
  const fuzzed = targets.reduce((n, t) => n + t.fuzzed, 0);
  result.note = `${replayed} corpus inputs replayed, ${fuzzed} inputs fuzzed`;
  if (targets.length === 0 || (status !== 0 && result.failed === 0)) {
    result.failed += 1;
    result.note = `fuzz/run.sh exited ${status}${targets.length === 0 ? " without a report" : ""}`;
  }
  return result;
}

function format(r) {
  return `${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${r.note ? ` (${r.note})` : ""}`;
}
