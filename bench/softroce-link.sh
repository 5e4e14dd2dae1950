#!/usr/bin/env bash
# bench/softroce-link.sh — which two linked Ethernet devices should carry the soft-RoCE
# harness's rxe pair. Run as root where rdma_rxe loads, i.e. in the guest:
#   node bin/connect-rdma.js softroce run --mode guest --timeout 900 -- bash bench/softroce-link.sh [REPS]
# Builds in turn, REPS times (default 3) interleaved, each rep starting with the next one,
# each with an rxe device on either device, 10.77.0.201 and .202 (the test range, above
# every host-mode pair) and the harness's policy routing (softroce/rxe-pair.sh, which
# builds all three):
#   veth     the harness's veth pair
#   macvlan  two macvlan devices in bridge mode on one dummy parent
#   bridge   two veth pairs whose far ends are ports of one bridge
# and measures, client rxe device -> server rxe device by GID (as test/softroce/guest-check.mjs),
# perftest ib_send_lat (64 B) and ib_send_bw (64 KiB), and the time to build and to remove
# the pair. Each run must show the traffic crossed: the client device's sent packets, the
# server device's received packets and the server netdev's rx packets all grow. Then,
# once per variant, the harness's faults: netem delay and loss on both ends, --mtu 9000,
# and the link flap (sr_pair_flap: the client netdev down, then up: the port states, the
# client's route, and whether RDMA works again). Prints one RESULT/FAULT line per
# measurement and a summary (median, min-max).
# Exit: 0; 1 a measurement failed (FAIL lines); 77 not root or no rdma_rxe.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../softroce/rxe-pair.sh"
reps=${1:-3}
variants=(veth macvlan bridge)
LAT_N=1000 BW_N=200 BW_SIZE=65536
[[ $(id -u) == 0 ]] && modprobe rdma_rxe 2>/dev/null || { echo "softroce-link: needs root and rdma_rxe (run it in the guest)" >&2; exit 77; }
unset SR_LOSS SR_DELAY SR_REORDER SR_MTU SR_DOWN_AFTER SR_DOWN_FOR
work=$(mktemp -d)
results=$work/results failed=0
fail() { echo "FAIL $*"; failed=1; }

# ------------------------------------------------------------------- the variants ---
# The link types: links_<variant> prints its `ip -batch` lines; the harness's own
# sr_pair_links (rxe-pair.sh) is links_veth, and sr_pair_links now builds the current one.
eval "links_veth() $(declare -f sr_pair_links | tail -n +2)"
sr_pair_links() { "links_$current"; }
links_macvlan() {
  echo "link add lcdummy type dummy"
  echo "link set lcdummy mtu ${SR_MTU:-1500} up"  # a macvlan's MTU is at most its parent's
  echo "link add $SR_NET0 link lcdummy type macvlan mode bridge"
  echo "link add $SR_NET1 link lcdummy type macvlan mode bridge"
}
# The bridge device answers ARP for the pair's addresses too (they are local, arp_ignore
# is 0), so a peer's address can resolve to the bridge's MAC, where no rxe device listens.
links_bridge() {
  local end
  echo "link add lcbridge type bridge"
  for end in 0 1; do
    echo "link add lcbrv$end type veth peer name lcbrp$end"
    echo "link set lcbrp$end mtu ${SR_MTU:-1500} master lcbridge up"
  done
  echo "link set lcbridge up"
}
# variant NAME: the current variant and the pair's names.
variant() {
  current=$1
  SR_DEV0=lcrxe0 SR_DEV1=lcrxe1 SR_IP0=10.77.0.201 SR_IP1=10.77.0.202 SR_TABLE0=17790 SR_TABLE1=17791
  case $1 in
    veth) SR_NET0=lcveth0 SR_NET1=lcveth1 ;;
    macvlan) SR_NET0=lcmvl0 SR_NET1=lcmvl1 ;;
    bridge) SR_NET0=lcbrv0 SR_NET1=lcbrv1 ;;
  esac
}
# Removes whatever of the current variant exists (sr_pair_down, then what it leaves).
variant_down() {
  [[ -n ${current:-} ]] || return 0
  sr_pair_down
  ip link delete "$SR_NET1" 2>/dev/null || true
  ip link delete lcdummy 2>/dev/null || true
  ip link delete lcbridge 2>/dev/null || true
  ip link delete lcbrp1 2>/dev/null || true
  current=
}
trap 'variant_down; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

port_state() { cut -d' ' -f2 "/sys/class/infiniband/$1/ports/1/state"; }
wait_active() {  # wait_active DEV...: up to 10 s for each port to be ACTIVE
  local dev i
  for dev in "$@"; do
    for ((i = 0; i < 100; i++)); do [[ $(port_state "$dev") == ACTIVE ]] && break; sleep 0.1; done
    [[ $(port_state "$dev") == ACTIVE ]] || return 1
  done
}
# gid_index DEV IP: the index of IP's IPv4-mapped GID on DEV (up to 5 s for it to appear).
gid_index() {
  local want file i
  want=$(printf '0000:0000:0000:0000:0000:ffff:%02x%02x:%02x%02x' ${2//./ })
  for ((i = 0; i < 50; i++)); do
    for file in /sys/class/infiniband/$1/ports/1/gids/*; do
      [[ $(cat "$file" 2>/dev/null) == "$want" ]] && { echo "${file##*/}"; return 0; }
    done
    sleep 0.1
  done
  return 1
}
ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f\n", (b - a) * 1000 }'; }
# The current variant's pair, ports ACTIVE: sets gid0 gid1 and up_ms; on failure, why (stdout).
pair_up() {
  local start=$EPOCHREALTIME
  sr_pair_up >"$work/up.log" 2>&1 || { cat "$work/up.log"; return 1; }
  wait_active "$SR_DEV0" "$SR_DEV1" || { echo "ports not ACTIVE"; return 1; }
  gid0=$(gid_index "$SR_DEV0" "$SR_IP0") && gid1=$(gid_index "$SR_DEV1" "$SR_IP1") || { echo "no IPv4 GID"; return 1; }
  up_ms=$(ms_since "$start")
}

# ------------------------------------------------------------------------ perftest ---
# counts: "SENT RCVD RX", the client device's sent packets, the server device's received
# packets and the server netdev's rx packets (rxe's hw_counters and the netdev statistics).
counts() {
  echo "$(<"/sys/class/infiniband/$SR_DEV1/ports/1/hw_counters/sent_pkts")" \
    "$(<"/sys/class/infiniband/$SR_DEV0/ports/1/hw_counters/rcvd_pkts")" \
    "$(<"/sys/class/net/$SR_NET0/statistics/rx_packets")"
}
# perf TOOL N SIZE MIN_PACKETS: TOOL from $SR_DEV1 to a server on $SR_DEV0; the client's
# output in $work/client.out; on failure, why (stdout). Sets packets (the three counts'
# growth) and crossed=1 if each grew by at least MIN_PACKETS. Runs in the caller's shell
# (never in $(...)): crossed and packets are the caller's.
perf() {
  local tool=$1 n=$2 size=$3 min=$4 server out=$work/server.out client="" i before after
  before=$(counts)
  stdbuf -oL timeout 120 "$tool" -d "$SR_DEV0" -x "$gid0" -F -n "$n" -s "$size" >"$out" 2>&1 &
  server=$!
  for ((i = 0; i < 80; i++)); do grep -q "Waiting for client" "$out" && break; sleep 0.25; done
  # The banner comes just before listen(): retry the client for that short window.
  for ((i = 0; i < 40; i++)); do
    if client=$(timeout 120 "$tool" -d "$SR_DEV1" -x "$gid1" -F -n "$n" -s "$size" "$SR_IP0" 2>&1); then
      wait "$server" || { echo "$tool server failed: $(cat "$out")"; return 1; }
      after=$(counts)
      packets=$(awk -v b="$before" -v a="$after" -v min="$min" 'BEGIN {
        if (split(b, x) != 3 || split(a, y) != 3) { print "unreadable counters: before", b, "after", a; exit 1 }
        printf "sent %d rcvd %d rx %d\n", y[1] - x[1], y[2] - x[2], y[3] - x[3]
        exit !(y[1] - x[1] >= min && y[2] - x[2] >= min && y[3] - x[3] >= min)
      }') && crossed=1
      echo "$client" >"$work/client.out"
      return 0
    fi
    grep -q "Couldn't connect\|Unable to open" <<<"$client" || break
    sleep 0.25
  done
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
  echo "$tool client failed: $client"
  return 1
}
# send_lat N: sets lat to "typical avg p99" (us, one-way) of 64 B ib_send_lat, crossed, packets.
send_lat() {
  crossed=0 packets=
  perf ib_send_lat "$1" 64 "$1" >"$work/why.perf" || { lat=$(<"$work/why.perf"); return 1; }
  lat=$(awk -v n="$1" '$1 == 64 && $2 == n { print $5, $6, $8; found = 1 } END { exit !found }' "$work/client.out")
}
# send_bw: sets bw to the average MB/s of ib_send_bw, crossed, packets (the MTU is 1024 or more).
send_bw() {
  crossed=0 packets=
  perf ib_send_bw $BW_N $BW_SIZE $((BW_N * BW_SIZE / 4096)) >"$work/why.perf" || { bw=$(<"$work/why.perf"); return 1; }
  bw=$(awk -v s=$BW_SIZE -v n=$BW_N '$1 == s && $2 == n { print $4; found = 1 } END { exit !found }' "$work/client.out")
}

# ---------------------------------------------------------------- the comparison ---
echo "kernel $(uname -r), $(nproc) CPUs; ib_send_lat 64 B x $LAT_N, ib_send_bw $BW_SIZE B x $BW_N, $reps reps"
# Each rep starts with the next variant: the first run after boot (cold caches under
# TCG) is slow, and no variant should always come first.
for ((rep = 1; rep <= reps; rep++)); do
  for ((k = 0; k < ${#variants[@]}; k++)); do
    name=${variants[(rep - 1 + k) % ${#variants[@]}]}
    variant "$name"
    if ! pair_up >"$work/why"; then fail "$name rep $rep: setup: $(cat "$work/why")"; variant_down; continue; fi
    lat_packets=- bw_packets=-
    if send_lat $LAT_N && ((crossed)); then lat_packets=$packets; else fail "$name rep $rep: ib_send_lat ($lat; $packets)"; lat="- - -"; fi
    if send_bw && ((crossed)); then bw_packets=$packets; else fail "$name rep $rep: ib_send_bw ($bw; $packets)"; bw=-; fi
    start=$EPOCHREALTIME
    variant_down
    down_ms=$(ms_since "$start")
    read -r typical avg p99 <<<"$lat"
    echo "RESULT $name rep $rep lat_typical_us $typical lat_avg_us $avg lat_p99_us $p99 bw_MBps $bw" \
      "up_ms $up_ms down_ms $down_ms packets: lat $lat_packets, bw $bw_packets" | tee -a "$results"
  done
done

# ---------------------------------------------------------------------- the faults ---
for name in "${variants[@]}"; do
  variant "$name"
  # --mtu 9000: rxe's active MTU should become 4096.
  SR_MTU=9000
  if pair_up >/dev/null; then
    mtu=$(ibv_devinfo -d "$SR_DEV1" | awk '/active_mtu/ { print $2 }')
    send_lat 100 && ((crossed)) || lat="failed: $lat"
    echo "FAULT $name mtu 9000: active_mtu $mtu, ib_send_lat $lat"
  else
    echo "FAULT $name mtu 9000: setup failed: $(cat "$work/up.log")"
  fi
  variant_down
  unset SR_MTU
  variant "$name"
  pair_up >/dev/null || { fail "$name: setup for the faults"; variant_down; continue; }
  # --delay 1ms on both ends: the one-way latency grows by about 1000 us.
  SR_DELAY=1ms
  if sr_pair_faults; then
    send_lat 100 || lat="failed: $lat"
    echo "FAULT $name delay 1ms: ib_send_lat typical/avg/p99 us $lat"
  else
    echo "FAULT $name delay 1ms: tc netem refused"
  fi
  tc qdisc del dev "$SR_NET0" root 2>/dev/null || true
  tc qdisc del dev "$SR_NET1" root 2>/dev/null || true
  unset SR_DELAY
  # --loss 1 on both ends: the run completes (rxe retransmits) and netem dropped packets.
  SR_LOSS=1
  if sr_pair_faults; then
    start=$EPOCHREALTIME
    send_lat 300 || lat="failed: $lat"
    dropped=$(tc -s qdisc show dev "$SR_NET0"; tc -s qdisc show dev "$SR_NET1")
    dropped=$(awk '/dropped/ { sub(",", "", $7); n += $7 } END { print n + 0 }' <<<"$dropped")
    echo "FAULT $name loss 1%: ib_send_lat x 300 $lat, netem dropped $dropped, $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
  else
    echo "FAULT $name loss 1%: tc netem refused"
  fi
  tc qdisc del dev "$SR_NET0" root 2>/dev/null || true
  tc qdisc del dev "$SR_NET1" root 2>/dev/null || true
  unset SR_LOSS
  # The harness's flap (sr_pair_flap, as --link-down-after 0 --link-down-for 2s): the
  # client netdev down for 2 s, then up again.
  SR_DOWN_AFTER=0 SR_DOWN_FOR=2
  flap=$(sr_pair_flap)
  sleep 1
  echo "FAULT $name flap: $SR_NET1 down -> $SR_DEV0 $(port_state "$SR_DEV0"), $SR_DEV1 $(port_state "$SR_DEV1")"
  while kill -0 "$flap" 2>/dev/null; do sleep 0.1; done
  unset SR_DOWN_AFTER SR_DOWN_FOR
  # The link's GIDs go with it and come back, not always at the same index.
  if wait_active "$SR_DEV0" "$SR_DEV1" && gid0=$(gid_index "$SR_DEV0" "$SR_IP0") && gid1=$(gid_index "$SR_DEV1" "$SR_IP1"); then
    if send_lat 100 && ((crossed)); then lat="works ($lat)"; else lat="fails ($lat)"; fi
    echo "FAULT $name flap: $SR_NET1 up -> ACTIVE, GIDs $gid0 $gid1; ib_send_lat $lat; table $SR_TABLE1: $(ip route show table "$SR_TABLE1" | tr '\n' ';')"
  else
    echo "FAULT $name flap: $SR_NET1 up -> ports $(port_state "$SR_DEV0") $(port_state "$SR_DEV1") after 10 s, GIDs ${gid0:-none} ${gid1:-none}"
  fi
  if [[ $name == macvlan ]]; then  # the parent down takes both macvlan devices down
    ip link set lcdummy down
    sleep 1
    echo "FAULT $name flap: lcdummy down -> $SR_DEV0 $(port_state "$SR_DEV0"), $SR_DEV1 $(port_state "$SR_DEV1")"
    ip link set lcdummy up
  fi
  variant_down
done

# ---------------------------------------------------------------------- the summary ---
echo "SUMMARY median (min-max) over $reps reps"
for name in "${variants[@]}"; do
  awk -v v="$name" '
    function stat(k,   n, i, j, t, a) {
      n = 0
      for (i = 1; i <= rows; i++) if (val[i, k] != "-") a[++n] = val[i, k]
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      if (n == 0) return "-"
      return (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) " (" a[1] "-" a[n] ")"
    }
    $2 == v { rows++; for (i = 5; i <= 15; i += 2) { val[rows, $i] = $(i + 1); keys[$i] = 1 } }
    END {
      line = v
      split("lat_typical_us lat_avg_us lat_p99_us bw_MBps up_ms down_ms", order)
      for (i = 1; i <= 6; i++) line = line "  " order[i] " " stat(order[i])
      print line
    }' "$results"
done
exit $failed
