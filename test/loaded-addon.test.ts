// Which native addon this process really runs: the shared object mapped into it
// (/proc/self/maps), not the path we meant to load. The normal pass must run build/, and the
// sanitizer pass (scripts/test-asan.sh sets CONNECT_RDMA_EXPECT_ADDON) must run the
// instrumented build-asan/ addon with the ASan runtime loaded — scripts/run-tests.mjs fails
// that pass unless this file's sanitizer test passed in it, so a pass that silently ran the
// normal build cannot count as sanitized.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { native, packageRoot } from "../src/binding.js";

/** Paths of the shared objects mapped into this process. */
function mappedFiles(): string[] {
  const paths = readFileSync("/proc/self/maps", "utf8")
    .split("\n")
    .map((line) => line.split(/\s+/).slice(5).join(" "))
    .filter((path) => path.startsWith("/"));
  return [...new Set(paths)];
}

const expected = process.env.CONNECT_RDMA_EXPECT_ADDON;

it("the addon mapped into the process is the one node-gyp-build resolves, and only that one", () => {
  native().capabilities();
  const resolve = createRequire(import.meta.url)("node-gyp-build").resolve as (dir: string) => string;
  const addons = mappedFiles().filter((path) => path.endsWith(".node"));
  expect(addons).toEqual([resolve(packageRoot)]);
  if (expected === undefined) expect(addons[0]).toBe(`${packageRoot}build/Release/connect_rdma.node`);
});

// Defined only in the sanitizer pass (elsewhere it would be a skip in every run).
if (expected !== undefined) it("sanitizer pass: the addon is build-asan's, instrumented, with the ASan runtime loaded", () => {
  native().capabilities();
  const mapped = mappedFiles();
  expect(mapped.filter((path) => path.endsWith(".node"))).toEqual([expected]);
  expect(readFileSync(expected!).includes("__asan_report_load"), `${expected} is instrumented by AddressSanitizer`).toBe(true);
  expect(readFileSync(expected!).includes("__ubsan_handle_"), `${expected} is instrumented by UndefinedBehaviorSanitizer`).toBe(true);
  expect(mapped.some((path) => /\/libasan\.so[.\d]*$/.test(path)), "libasan is mapped (LD_PRELOAD)").toBe(true);
});
