#!/usr/bin/env bash
# run-in-guest.sh — runs a command inside a throw-away QEMU guest (TCG) that has two
# soft-RoCE devices, and passes its stdout, stderr and exit code back. The guest boots
# Debian's stock kernel (it builds rdma_rxe) with the host root shared read-only over 9p
# under a tmpfs overlay, so the host's node, rdma-core and this project's build run in
# it as they are, in the caller's cwd and environment. Owns: the QEMU invocation, the
# run directory, timeouts. Helpers: host-deps.sh (apt), prepare-kernel.sh (cache),
# guest-init.sh (stage 1), guest-setup.sh (stage 2: rxe0/rxe1, the command).
#
#   run-in-guest.sh [options] [--] command [args...]
#   run-in-guest.sh --setup        install host packages, build the cache, boot nothing
#
# Options (environment variable in parentheses):
#   --timeout SEC   kill the guest after SEC s, exit 124        (SOFTROCE_TIMEOUT, 600)
#   --cpus N        vCPUs; busy-polling needs >= 2               (SOFTROCE_CPUS, 2)
#   --mem SIZE      guest memory                                 (SOFTROCE_MEM, 2G)
#   --rw DIR        share DIR read-write (repeatable); all other writes are discarded
#   --keep          keep the run directory (console.log, dmesg.txt, setup.log)
#   -i              connect stdin (e.g. an interactive shell: run-in-guest.sh -i bash)
#   -v              say what is being built
#   --no-devices    make no rxe devices (for testing the host mode inside the guest)
#   (the link's faults come from SR_LOSS, SR_DELAY, SR_REORDER, SR_MTU, SR_DOWN_AFTER and
#    SR_DOWN_FOR, as `connect-rdma softroce run` sets them: see rxe-pair.sh)
#   (SOFTROCE_CACHE: cache dir, default ${XDG_CACHE_HOME:-$HOME/.cache}/connect-rdma/softroce;
#    SOFTROCE_KERNEL_PKG: kernel package, default linux-image-amd64; SOFTROCE_TRACE=1:
#    xtrace of the guest setup into setup.log; SOFTROCE_APPEND: extra kernel arguments)
#
# In the guest the command runs as root with SOFTROCE=1, SOFTROCE_MODE=guest,
# SOFTROCE_SERVER_DEVICE=rxe0, SOFTROCE_SERVER_IP=10.77.0.1, SOFTROCE_CLIENT_DEVICE=rxe1,
# SOFTROCE_CLIENT_IP=10.77.0.2 (also as SOFTROCE_DEV0/IP0/DEV1/IP1). A client must bind
# its source address (10.77.0.2), or rdma_cm picks rxe0 and talks to itself.
#
# Exit: the command's code; 124 guest timed out; 125 harness or guest failure;
# 77 this machine cannot run the guest (packages missing and not root, no kernel).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
timeout_s=${SOFTROCE_TIMEOUT:-600}
cpus=${SOFTROCE_CPUS:-2}
mem=${SOFTROCE_MEM:-2G}
cache=${SOFTROCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/connect-rdma/softroce}
keep=0 interactive=0 setup_only=0 devices=1
export SOFTROCE_VERBOSE=${SOFTROCE_VERBOSE:-0}
rw_dirs=()
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --timeout) timeout_s=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --rw) rw_dirs+=("$(readlink -f "$2")"); shift 2 ;;
    --keep) keep=1; shift ;;
    -i | --interactive) interactive=1; shift ;;
    -v | --verbose) SOFTROCE_VERBOSE=1; shift ;;
    --setup) setup_only=1; shift ;;
    --no-devices) devices=0; shift ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) echo "run-in-guest.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[[ $# -gt 0 || $setup_only == 1 ]] || usage
die() { echo "softroce: $*" >&2; exit 125; }

# Paths go on the kernel command line (space-separated) and into QEMU options (commas).
mkdir -p "$cache/runs"
cache=$(readlink -f "$cache")
for dir in "$cache" "${rw_dirs[@]}"; do
  [[ -d $dir && $dir != *[[:space:],]* ]] || die "$dir: must be an existing directory without spaces or commas"
done

bash "$here/host-deps.sh"
bash "$here/prepare-kernel.sh" "$cache"
source "$cache/${SOFTROCE_KERNEL_PKG:-linux-image-amd64}/boot.env"  # KERNEL INITRD KVER MODDIR
[[ $setup_only == 1 ]] && { echo "softroce: ready (kernel $KVER, cache $cache)" >&2; exit 0; }

# One guest at a time: two TCG guests on a 2-core machine starve each other (and the
# tests around them) into timeouts. The lock is released when this script exits.
exec 8>"$cache/guest.lock"
flock 8

# ------------------------------------------------------------------- run directory ---
find "$cache/runs" -mindepth 1 -maxdepth 1 -name 'run.*' -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
run=$(mktemp -d "$cache/runs/run.XXXXXX")
chmod 0755 "$run"
cp "$here/guest-setup.sh" "$run/stage2.sh"
cp "$here/rxe-pair.sh" "$run/rxe-pair.sh"
{
  printf 'SR_INTERACTIVE=%q\nSR_TRACE=%q\nSR_DEVICES=%q\nSR_KEEP=%q\n' "$interactive" "${SOFTROCE_TRACE:-0}" "$devices" "$keep"
  # The link's faults, from `connect-rdma softroce run` (rxe-pair.sh names them).
  for name in SR_LOSS SR_DELAY SR_REORDER SR_MTU SR_DOWN_AFTER SR_DOWN_FOR; do printf '%s=%q\n' "$name" "${!name:-}"; done
} >"$run/boot.conf"
{
  while read -r name; do
    case $name in
      BASH_* | SHLVL | PWD | OLDPWD | _ | TERM | SSH_* | DISPLAY | XDG_RUNTIME_DIR | HOSTNAME | SR_*) ;;
      *) printf 'export %s=%q\n' "$name" "${!name}" ;;
    esac
  done < <(compgen -e)
  if [[ $interactive == 1 ]]; then printf 'export TERM=%q\n' "${TERM:-dumb}"; else echo 'export TERM=dumb'; fi
  printf 'cd %q 2>/dev/null || { echo "softroce: no directory %q in the guest" >&2; cd /; }\n' "$PWD" "$PWD"
  printf 'SR_CMD=('; printf '%q ' "$@"; printf ')\n'
} >"$run/env.sh"
: >"$run/stderr"

status=125 signalled=0
cleanup() {
  if [[ $keep == 1 || $status == 124 || $status == 125 ]]; then
    echo "softroce: run directory kept: $run" >&2
  else
    rm -rf "$run"
  fi
}
trap cleanup EXIT

# ---------------------------------------------------------------------------- qemu ---
append="console=ttyS1 loglevel=4 panic=-1 mitigations=off tsc=reliable cryptomgr.notests ${SOFTROCE_APPEND:-} sr.run=$run sr.mods=$MODDIR"
[[ ${#rw_dirs[@]} -gt 0 ]] && append+=" sr.rw=$(IFS=,; echo "${rw_dirs[*]}")"
qemu=(qemu-system-x86_64 -accel tcg,thread=multi,tb-size=256 -cpu max -m "$mem" -smp "$cpus"
  -nodefaults -no-user-config -display none -no-reboot
  -kernel "$KERNEL" -initrd "$INITRD" -append "$append"
  -chardev stdio,id=con,mux=off,signal=off -serial chardev:con -serial file:"$run/console.log"
  -fsdev local,id=fsroot,path=/,security_model=none,readonly=on,multidevs=remap
  -device virtio-9p-pci,fsdev=fsroot,mount_tag=hostroot
  -fsdev local,id=fsrun,path="$run",security_model=none
  -device virtio-9p-pci,fsdev=fsrun,mount_tag=srrun)
for i in "${!rw_dirs[@]}"; do
  qemu+=(-fsdev "local,id=fsrw$i,path=${rw_dirs[$i]},security_model=none"
    -device "virtio-9p-pci,fsdev=fsrw$i,mount_tag=srrw$i")
done
[[ $SOFTROCE_VERBOSE == 1 ]] && echo "softroce: ${qemu[*]}" >&2

set +e
if [[ $interactive == 1 ]]; then
  timeout --foreground -k 5 "$timeout_s" "${qemu[@]}" 2>"$run/qemu.log"
  qrc=$?
  cat "$run/stderr" >&2  # only harness messages: the command's stderr was the console
else
  # In the background so a TERM/INT to this script reaches QEMU (via timeout) at once.
  timeout -k 5 "$timeout_s" "${qemu[@]}" </dev/null 2>"$run/qemu.log" &
  qpid=$!
  trap 'signalled=1; kill -TERM "$qpid" 2>/dev/null' TERM INT HUP
  tail -n +1 -F -s 0.1 --pid="$qpid" "$run/stderr" >&2 2>/dev/null &
  tpid=$!
  while :; do
    wait "$qpid"; qrc=$?
    kill -0 "$qpid" 2>/dev/null || break  # wait returned early for a trapped signal
  done
  wait "$tpid"
fi
set -e

if [[ $signalled == 1 ]]; then
  echo "softroce: interrupted, guest killed" >&2
  status=143
elif [[ -s $run/rc ]]; then
  status=$(cat "$run/rc")
  [[ $status == 125 ]] && echo "softroce: guest setup failed (setup.log in the run directory)" >&2
  if ((status > 128 && status < 160)); then
    # Killed by a signal: the guest kernel's own account (segfault ip/sp, traps, OOM).
    echo "softroce: the command died of signal $((status - 128)); guest kernel log:" >&2
    grep -aiE 'segfault|trap|general protection|invalid opcode|oom|killed process' "$run/dmesg.txt" 2>/dev/null | tail -n 20 >&2 || true
  fi
elif [[ $qrc == 124 || $qrc == 137 ]]; then
  echo "softroce: guest killed after ${timeout_s}s (--timeout)" >&2
  status=124
else
  echo "softroce: the guest did not report an exit code (qemu exit $qrc):" >&2
  tail -n 20 "$run/qemu.log" "$run/console.log" >&2 2>/dev/null
  status=125
fi
exit "$status"
