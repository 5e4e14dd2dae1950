// What every benchmark command shares: validating numeric options, the interleaved run
// plan (every repeat runs every workload on every driver, the drivers' order rotated per
// repeat so no driver always runs first), and running main() with its exit code.

/** `text` as an integer >= min, or a RangeError naming the option. */
export function positiveInt(name, text, min = 1) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${text}`);
  return value;
}

/** One entry per run: { rep, workload, driver }, repeats outermost, drivers rotated per repeat. */
export function interleavedPlan({ reps, workloads, drivers }) {
  const runs = [];
  for (let rep = 1; rep <= reps; rep++) {
    for (const workload of workloads) {
      const n = drivers.length;
      for (let i = 0; i < n; i++) runs.push({ rep, workload, driver: drivers[(i + rep - 1) % n] });
    }
  }
  return runs;
}

/** Runs `main` (which resolves to an exit code); a throw prints "`what` failed: …" and exits 1. */
export function runMain(main, what) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      console.error(`${what} failed: ${error?.stack ?? error}`);
      process.exitCode = 1;
    },
  );
}
