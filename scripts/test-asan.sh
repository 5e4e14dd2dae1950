#!/usr/bin/env bash
# npm run test:asan: builds the native addon with AddressSanitizer + UndefinedBehaviorSanitizer
# into build-asan/ (its own binding.gyp, generated from the root one: sources and flags
# stay in one place) and runs the whole suite against it, except the soft-RoCE guest runs
# (test/softroce/softroce.test.ts, rdma-suite.test.ts) and test/package (it installs the
# packed tarball with its own prebuild: the sanitized addon is never loaded there). The
# normal build in build/ is left alone. npm test runs this as its second pass under
# CI=true (scripts/run-tests.mjs), and test/loaded-addon.test.ts proves the sanitized
# addon is the one loaded.
# With CONNECT_RDMA_ASAN_RDMA=1 (npm run test:asan:rdma) rdma-suite.test.ts is included:
# the RDMA channel suite runs in the guest against this build (docs/SOFTROCE.md, "Under
# the sanitizers": why that is not part of npm test).
#   bash scripts/test-asan.sh [vitest args...]      e.g. bash scripts/test-asan.sh test/frame
# How it works:
#   - node-gyp-build loads the addon from $CONNECT_RDMA_PREBUILD (= build-asan) instead of build/;
#   - Node itself is not instrumented, so the ASan runtime must be loaded first: LD_PRELOAD
#     of gcc's libasan (g++ -print-file-name=libasan.so); detect_leaks=0 because Node and
#     V8 keep allocations alive until exit by design;
#   - every report (ASan, UBSan) is fatal and written to build-asan/reports/, so a report in
#     a child process (fixtures, echo servers the tests kill on purpose) fails the run too.
set -euo pipefail
cd "$(dirname "$0")/.."

# What scripts/setup.sh does, minus the normal addon (build/ is left alone: rebuilding it
# here would clobber it for whoever else is testing).
bash scripts/ensure-system-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund
fi
newest_ts=$(find src tsconfig.json -type f -newer dist/.built 2>/dev/null | head -n1 || true)
if [ ! -f dist/.built ] || [ -n "$newest_ts" ]; then
  echo "[asan] compiling TypeScript"
  npx --no-install tsc -p tsconfig.json
  touch dist/.built
fi

libasan=$(g++ -print-file-name=libasan.so)
if [ ! -e "$libasan" ] || [ "$libasan" = "libasan.so" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test:asan: gcc's AddressSanitizer runtime is missing; install it with: sudo apt-get install -y libasan8 libubsan1" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libasan8 libubsan1 >/dev/null
  libasan=$(g++ -print-file-name=libasan.so)
fi
libasan=$(readlink -f "$libasan")

mkdir -p build-asan
node - <<'JS'
// build-asan/binding.gyp: the root target with paths one level up and sanitizer flags.
const fs = require("fs");
const gyp = JSON.parse(fs.readFileSync("binding.gyp", "utf8"));
const t = gyp.targets[0];
t.sources = t.sources.map((s) => `../${s}`);
t.include_dirs = t.include_dirs.map((d) => (d.startsWith("<!") ? d : `../${d}`));
const san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"];
t.cflags = [...(t.cflags ?? []), ...san];
t.cflags_cc = [...(t.cflags_cc ?? []).filter((f) => f !== "-O2"), "-O1", ...san];
t.ldflags = [...(t.ldflags ?? []), "-fsanitize=address,undefined"];
const text = JSON.stringify(gyp, null, 2) + "\n";
const file = "build-asan/binding.gyp";
if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) fs.writeFileSync(file, text);
JS

addon=build-asan/build/Release/connect_rdma.node
stale=$(find native build-asan/binding.gyp -type f -newer "$addon" 2>/dev/null | head -n1 || true)
if [ ! -f "$addon" ] || [ -n "$stale" ]; then
  echo "[asan] building the sanitized addon (log: build-asan/gyp.log)"
  (cd build-asan && npx --no-install node-gyp rebuild --nodedir="${NODEDIR:-/usr}" --jobs=2 >gyp.log 2>&1) \
    || { tail -n 40 build-asan/gyp.log; echo "[asan] build failed" >&2; exit 1; }
fi

reports="$PWD/build-asan/reports"
rm -rf "$reports"
mkdir -p "$reports"
export CONNECT_RDMA_PREBUILD="$PWD/build-asan"
export CONNECT_RDMA_EXPECT_ADDON="$PWD/$addon"           # test/loaded-addon.test.ts
export CONNECT_RDMA_ASAN_PRELOAD="$libasan" CONNECT_RDMA_ASAN_REPORTS="$reports"  # rdma-suite.test.ts
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$reports/asan:allow_user_segv_handler=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
echo "[asan] LD_PRELOAD=$libasan; addon: $addon"
guest_rdma=(--exclude "test/softroce/rdma-suite.test.ts")
[ "${CONNECT_RDMA_ASAN_RDMA:-0}" = 1 ] && guest_rdma=()
status=0
LD_PRELOAD="$libasan" npx --no-install vitest run --exclude "test/softroce/softroce.test.ts" "${guest_rdma[@]}" --exclude "test/package/**" "$@" || status=$?

# A report file that holds only ASan's stack-switching warnings (a process that switched
# stacks: "ASan doesn't fully support makecontext/swapcontext", "ignoring requested
# __asan_handle_no_return", and their two explanation lines) reports no error: it is shown,
# not fatal. Any other line — an ERROR, a UBSan "runtime error", a SUMMARY — fails the pass.
benign='WARNING: ASan (doesn.t fully support makecontext/swapcontext|is ignoring requested __asan_handle_no_return)|^False positive error reports may follow|^For details see https://github.com/google/sanitizers/issues/189'
fatal=0
if compgen -G "$reports/*" >/dev/null; then
  echo "[asan] sanitizer reports:" >&2
  for f in "$reports"/*; do
    echo "--- $f" >&2
    head -n 60 "$f" >&2
    if grep -Evq "$benign" "$f"; then fatal=1; else echo "[asan] (only stack-switching warnings: not an error report)" >&2; fi
  done
fi
[ "$fatal" = 1 ] && exit 1
exit $status
