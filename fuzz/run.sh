#!/usr/bin/env bash
# npm run fuzz: builds the libFuzzer targets of fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined), replays every input of the committed corpus
# fuzz/corpus/<target>/ once, then fuzzes each target for a bounded time or number of
# inputs, seeded from that corpus (new inputs go to fuzz/build/, so runs never dirty it).
# Exits non-zero when a target does not build, or finds a crash, a sanitizer report or an
# invariant violation; the reproducer is left in fuzz/build/artifacts/.
#   bash fuzz/run.sh [--seconds N | --runs N] [--report FILE] [target ...]
#     --seconds N   fuzz each target for N s (default 60)
#     --runs N      fuzz each target for N inputs instead, from the committed corpus only
#                   (what npm test runs under CI=true: scripts/run-tests.mjs)
#     --report FILE one line per target: "<target> <ok|failed> <corpus inputs replayed> <inputs fuzzed>"
# As root, missing clang packages (clang, libclang-rt-<version>-dev) are installed with
# apt-get; otherwise they are named.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
runs=""
report=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --runs) runs="$2"; shift 2 ;;
    --runs=*) runs="${1#*=}"; shift ;;
    --report) report="$2"; shift 2 ;;
    --report=*) report="${1#*=}"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=(frame_assembler lease_allocator rdma_message inbound_frames shm_ring)

# Sources of each target besides its harness (fuzz/<target>_fuzz.cc).
declare -A sources=(
  [frame_assembler]="native/uring/frame_assembler.cc"
  [lease_allocator]="native/region/lease_allocator.cc"
  [rdma_message]="native/rdma/rdma_message.cc"
  [inbound_frames]="native/rdma/inbound_frames.cc"
  [shm_ring]="native/shm/shm_ring.cc"
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
[ -n "$report" ] && : >"$report"
failed=()
# verdict ok|failed: the current target's line in the report.
verdict() {
  if [ -n "$report" ]; then echo "$t $1 $replayed $fuzzed" >>"$report"; fi
  if [ "$1" != ok ]; then failed+=("$t"); fi
}
for t in "${targets[@]}"; do
  [ -n "${sources[$t]:-}" ] || { echo "fuzz: unknown target $t (${!sources[*]})" >&2; exit 2; }
  bin="fuzz/build/$t"
  log="fuzz/build/$t.log"
  replayed=0 fuzzed=0
  echo "[fuzz] building $t"
  # -O1 -g: fast enough, and reports name lines. Every UB report aborts (no recovery).
  if ! clang++ -std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -D_GNU_SOURCE -Inative -o "$bin" "fuzz/${t}_fuzz.cc" ${sources[$t]}; then
    echo "[fuzz] $t FAILED: the harness does not build" >&2
    verdict failed
    continue
  fi
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1
  # The committed corpus, each input once (file arguments: no mutation).
  seeds=(fuzz/corpus/"$t"/*)
  if ! "$bin" "${seeds[@]}" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "[fuzz] $t FAILED replaying fuzz/corpus/$t (log: $log)" >&2
    verdict failed
    continue
  fi
  replayed=$(grep -c '^Executed ' "$log" || true)
  if [ "$replayed" -ne "${#seeds[@]}" ]; then
    echo "[fuzz] $t FAILED: replayed $replayed of ${#seeds[@]} corpus inputs (log: $log)" >&2
    verdict failed
    continue
  fi
  if [ -n "$runs" ]; then
    work=$(mktemp -d fuzz/build/corpus-run.XXXXXX)  # from the committed corpus only
    bound=(-runs="$runs")
    what="$runs inputs"
  else
    work="fuzz/build/corpus/$t"
    bound=(-max_total_time="$seconds")
    what="${seconds}s"
  fi
  mkdir -p "$work"
  echo "[fuzz] $t: replayed ${replayed} corpus inputs; fuzzing for $what"
  if ! "$bin" "${bound[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="fuzz/build/artifacts/$t-" "$work" "fuzz/corpus/$t" >>"$log" 2>&1; then
    tail -n 40 "$log"
    echo "[fuzz] $t FAILED: reproduce with: $bin fuzz/build/artifacts/$t-<crash file> (log: $log)" >&2
    verdict failed
  else
    fuzzed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$log" | tr '\n' ' '
    echo
    echo "[fuzz] $t: no finding"
    verdict ok
  fi
  [ -n "$runs" ] && rm -rf "$work"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "[fuzz] findings in: ${failed[*]}" >&2
  exit 1
fi
