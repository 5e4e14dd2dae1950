#!/usr/bin/env bash
# npm run fuzz: builds the libFuzzer targets of fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined) and runs each for a bounded time, seeded from the
# committed corpus in fuzz/corpus/<target>/ (copied to fuzz/build/, so runs never dirty
# it). Exits non-zero when a target finds a crash, a sanitizer report or an invariant
# violation; the reproducer is left in fuzz/build/artifacts/.
#   bash fuzz/run.sh [--seconds N] [target ...]     (default 60 s per target, all targets)
# As root, missing clang packages are installed with apt-get; otherwise they are named.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=(frame_assembler lease_allocator rdma_message inbound_frames)

# Sources of each target besides its harness (fuzz/<target>_fuzz.cc).
declare -A sources=(
  [frame_assembler]="native/uring/frame_assembler.cc"
  [lease_allocator]="native/region/lease_allocator.cc"
  [rdma_message]="native/rdma/rdma_message.cc"
  [inbound_frames]="native/rdma/inbound_frames.cc"
)

install_or_name() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "fuzz: missing packages: $*" >&2
    echo "install them with: sudo apt-get install -y $*" >&2
    exit 1
  fi
  echo "[fuzz] apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

command -v clang++ >/dev/null || install_or_name clang
major=$(clang++ --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n1)
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe/p.cc"
if ! clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cc" -o "$probe/p" 2>/dev/null; then
  install_or_name "libclang-rt-${major}-dev"
fi

mkdir -p fuzz/build/artifacts
failed=()
for t in "${targets[@]}"; do
  [ -n "${sources[$t]:-}" ] || { echo "fuzz: unknown target $t (${!sources[*]})" >&2; exit 2; }
  bin="fuzz/build/$t"
  echo "[fuzz] building $t"
  # -O1 -g: fast enough, and reports name lines. Every UB report aborts (no recovery).
  clang++ -std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -D_GNU_SOURCE -Inative -o "$bin" "fuzz/${t}_fuzz.cc" ${sources[$t]}
  work="fuzz/build/corpus/$t"
  mkdir -p "$work"
  echo "[fuzz] running $t for ${seconds}s (seeds: fuzz/corpus/$t)"
  if ! UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="fuzz/build/artifacts/$t-" "$work" "fuzz/corpus/$t" 2>"fuzz/build/$t.log"; then
    tail -n 40 "fuzz/build/$t.log"
    echo "[fuzz] $t FAILED: reproduce with: $bin fuzz/build/artifacts/$t-<crash file> (log: fuzz/build/$t.log)" >&2
    failed+=("$t")
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "fuzz/build/$t.log" | tr '\n' ' '
    echo
    echo "[fuzz] $t: no finding"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "[fuzz] findings in: ${failed[*]}" >&2
  exit 1
fi
