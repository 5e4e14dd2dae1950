#!/bin/bash
# Stage 2 of the soft-RoCE guest, copied to $RUN/stage2.sh and run by guest-init.sh as
# PID 1 inside the overlayed host root (rdma_rxe is loaded): makes rxe0/rxe1 on a veth pair,
# runs the caller's command (its environment, cwd and argv are in $RUN/env.sh), writes
# the exit code to $RUN/rc and powers off. stdout is ttyS0 (the host's stdout); the
# command's stderr goes to $RUN/stderr, which the host streams to its stderr.
RUN=$(dirname "$0")
source "$RUN/boot.conf"  # SR_INTERACTIVE SR_TRACE
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
[[ $SR_TRACE == 1 ]] && { PS4='+ $EPOCHREALTIME '; set -x; exec 2>>"$RUN/setup.log"; }

finish() {  # finish RC: report RC to the host and power off
  echo "$1" >"$RUN/rc.tmp" && mv "$RUN/rc.tmp" "$RUN/rc"
  dmesg >"$RUN/dmesg.txt" 2>/dev/null
  sync
  stty -F /dev/ttyS0 -onlcr 2>/dev/null  # tcsetattr(TCSADRAIN): the UART has sent everything
  exec /bin/busybox poweroff -f
}

# Every process counts under TCG (~0.1 s each): one `ip -batch`, one `rdma -b`.
# rxe0 on veth0 (10.77.0.1) and rxe1 on veth1 (10.77.0.2), both in the initial network
# namespace (rxe's UDP/4791 socket exists only there: two namespaces carry no RDMA data).
setup_rxe() {
  # Both addresses are local, so 10.77.0.1 -> 10.77.0.2 would be routed via "lo", where
  # rxe drops it. Policy routing sends locally generated traffic between them through
  # the veth pair; accept_local lets the peer accept a source address that is its own.
  ip -batch - <<'ROUTES' || return 1
link set lo up
link add veth0 type veth peer name veth1
addr add 10.77.0.1/24 dev veth0
addr add 10.77.0.2/24 dev veth1
link set veth0 up
link set veth1 up
rule add pref 1000 lookup local
rule del pref 0
route add 10.77.0.2/32 dev veth0 src 10.77.0.1 table 100
route add 10.77.0.1/32 dev veth1 src 10.77.0.2 table 101
rule add pref 100 iif lo from 10.77.0.1 to 10.77.0.2 lookup 100
rule add pref 101 iif lo from 10.77.0.2 to 10.77.0.1 lookup 101
rule add pref 102 oif veth0 to 10.77.0.2 lookup 100
rule add pref 103 oif veth1 to 10.77.0.1 lookup 101
ROUTES
  for conf in all default veth0 veth1; do
    echo 1 >"/proc/sys/net/ipv4/conf/$conf/accept_local"
    echo 0 >"/proc/sys/net/ipv4/conf/$conf/rp_filter"
  done
  rdma -b - <<'LINKS' || return 1
link add rxe0 type rxe netdev veth0
link add rxe1 type rxe netdev veth1
LINKS
}
if ! setup_rxe >>"$RUN/setup.log" 2>&1; then
  echo "softroce: rxe setup failed:" >>"$RUN/stderr"
  cat "$RUN/setup.log" >>"$RUN/stderr"
  finish 125
fi

(
  source "$RUN/env.sh"  # the caller's environment, `cd` to its cwd, SR_CMD=(argv)
  export SOFTROCE=1 SOFTROCE_DEV0=rxe0 SOFTROCE_IP0=10.77.0.1 SOFTROCE_DEV1=rxe1 \
    SOFTROCE_IP1=10.77.0.2 SOFTROCE_RUNDIR=$RUN
  if [[ $SR_INTERACTIVE == 1 ]]; then
    exec "${SR_CMD[@]}"
  else
    exec "${SR_CMD[@]}" </dev/null 2>>"$RUN/stderr"
  fi
)
finish $?
