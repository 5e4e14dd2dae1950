#!/usr/bin/env bash
# host-pair.sh — the host mode's soft-RoCE pairs on the running kernel (rxe-pair.sh builds
# them). Several runs may hold a pair at once: pair K uses srveth<2K>/srveth<2K+1>,
# srxe<2K>/srxe<2K+1>, 10.77.0.<2K+1>/10.77.0.<2K+2> and routing tables 17700+2K/+2K+1,
# and its state file names the process that holds it. A pair whose holder is gone (a
# killed run) is removed by the next `up` that wants it, or by `clean`.
#
#   host-pair.sh up HOLDER_PID   take a free pair: prints KEY=VALUE lines (SOFTROCE_* names,
#                                SR_PAIR, SR_FLAP_PID); the faults come from SR_* (rxe-pair.sh)
#   host-pair.sh down K          remove pair K
#   host-pair.sh clean           remove every pair whose holder is gone; prints what it removed
#   host-pair.sh list            the pairs and their holders
# Exit: 0; 1 setup failed (what failed on stderr); 2 usage.
set -uo pipefail
# Ctrl-C reaches the whole process group: the harness (connect-rdma softroce) handles it
# once this script has finished making or removing a pair, never half-way.
trap '' INT

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/rxe-pair.sh"
state=${SOFTROCE_STATE:-/tmp/connect-rdma-softroce}
max_pairs=64

pair_vars() {  # pair_vars K: the pair's names
  local k=$1
  SR_NET0=srveth$((2 * k)) SR_NET1=srveth$((2 * k + 1)) SR_DEV0=srxe$((2 * k)) SR_DEV1=srxe$((2 * k + 1))
  SR_IP0=10.77.0.$((2 * k + 1)) SR_IP1=10.77.0.$((2 * k + 2)) SR_TABLE0=$((17700 + 2 * k)) SR_TABLE1=$((17701 + 2 * k))
}
holder_alive() { [[ -s $state/pair.$1 ]] && kill -0 "$(head -n1 "$state/pair.$1")" 2>/dev/null; }
remove_pair() {  # remove_pair K: the flap (if any), the devices, the state file
  local flap
  flap=$(sed -n 2p "$state/pair.$1" 2>/dev/null)
  [[ -n $flap ]] && kill "$flap" 2>/dev/null
  pair_vars "$1"
  sr_pair_down
  rm -f "$state/pair.$1"
}
in_use() {  # the pair's netdev exists, or one of its addresses is taken by someone else
  [[ -e /sys/class/net/$SR_NET0 || -n $(ip -o addr show to "$SR_IP0/32") || -n $(ip -o addr show to "$SR_IP1/32") ]]
}

mkdir -p "$state" && chmod 1777 "$state" 2>/dev/null
exec 9>>"$state/lock"
flock -w 60 9 || { echo "softroce: timed out waiting for $state/lock" >&2; exit 1; }

case ${1:-} in
  up)
    holder=${2:?holder pid}
    for ((k = 0; k < max_pairs; k++)); do
      pair_vars "$k"
      if [[ -e $state/pair.$k ]]; then
        holder_alive "$k" && continue
        remove_pair "$k"
      fi
      in_use && continue
      echo "$holder" >"$state/pair.$k"
      if ! err=$(sr_pair_up 2>&1); then
        remove_pair "$k"
        echo "softroce: could not set up the soft-RoCE pair $SR_DEV0/$SR_DEV1 on $SR_NET0/$SR_NET1:" >&2
        echo "$err" >&2
        exit 1
      fi
      flap=$(sr_pair_flap 9>&-)  # the flap must not hold the lock
      [[ -n $flap ]] && echo "$flap" >>"$state/pair.$k"
      printf '%s\n' "SR_PAIR=$k" "SR_FLAP_PID=$flap" \
        "SOFTROCE_SERVER_IP=$SR_IP0" "SOFTROCE_CLIENT_IP=$SR_IP1" "SOFTROCE_SERVER_DEVICE=$SR_DEV0" \
        "SOFTROCE_CLIENT_DEVICE=$SR_DEV1" "SOFTROCE_SERVER_NETDEV=$SR_NET0" "SOFTROCE_CLIENT_NETDEV=$SR_NET1"
      exit 0
    done
    echo "softroce: all $max_pairs soft-RoCE pairs are in use (host-pair.sh list)" >&2
    exit 1 ;;
  down)
    remove_pair "${2:?pair index}" ;;
  clean)
    for file in "$state"/pair.*; do
      [[ -e $file ]] || continue
      k=${file##*.}
      holder_alive "$k" && continue
      pair_vars "$k"
      echo "removed pair $k ($SR_DEV0/$SR_DEV1 on $SR_NET0/$SR_NET1), holder $(head -n1 "$file") gone"
      remove_pair "$k"
    done ;;
  list)
    for file in "$state"/pair.*; do
      [[ -e $file ]] || continue
      k=${file##*.}
      pair_vars "$k"
      echo "pair $k: $SR_DEV0/$SR_DEV1 on $SR_NET0/$SR_NET1 ($SR_IP0, $SR_IP1), holder $(head -n1 "$file")$(holder_alive "$k" || echo ' (gone)')"
    done ;;
  *)
    sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2 ;;
esac
exit 0
