#!/bin/bash
# Stage 2 of the soft-RoCE guest, copied to $RUN/stage2.sh and run by guest-init.sh as
# PID 1 inside the overlayed host root (rdma_rxe is loaded): makes rxe0/rxe1 on a veth pair
# (rxe-pair.sh, with the faults asked for),
# runs the caller's command (its environment, cwd and argv are in $RUN/env.sh), writes
# the exit code to $RUN/rc and powers off. stdout is ttyS0 (the host's stdout); the
# command's stderr goes to $RUN/stderr, which the host streams to its stderr.
RUN=$(dirname "$0")
source "$RUN/boot.conf"  # SR_INTERACTIVE SR_TRACE SR_DEVICES SR_KEEP, the faults (rxe-pair.sh)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
[[ $SR_TRACE == 1 ]] && { PS4='+ $EPOCHREALTIME '; set -x; exec 2>>"$RUN/setup.log"; }

finish() {  # finish RC: report RC to the host and power off
  echo "$1" >"$RUN/rc.tmp" && mv "$RUN/rc.tmp" "$RUN/rc"
  # The kernel log: for --keep, and for the host's account of a command killed by a signal.
  [[ $1 != 0 || $SR_KEEP == 1 ]] && dmesg >"$RUN/dmesg.txt" 2>/dev/null
  sync
  stty -F /dev/ttyS0 -onlcr 2>/dev/null  # tcsetattr(TCSADRAIN): the UART has sent everything
  exec /bin/busybox poweroff -f
}

# Every process counts under TCG (~0.1 s each): rxe-pair.sh runs one `ip -batch` and one
# `rdma -b`. rxe0 on veth0 (10.77.0.1) and rxe1 on veth1 (10.77.0.2), both in the initial
# network namespace (rxe's UDP/4791 socket exists only there: two namespaces carry no
# RDMA data). SR_DEVICES=0 (run-in-guest.sh --no-devices) leaves the guest without them,
# for testing the host mode inside it.
source "$RUN/rxe-pair.sh"
SR_NET0=veth0 SR_NET1=veth1 SR_DEV0=rxe0 SR_DEV1=rxe1 SR_IP0=10.77.0.1 SR_IP1=10.77.0.2 SR_TABLE0=100 SR_TABLE1=101
setup_rxe() {
  # veth hands every packet to the receiving CPU's backlog queue (1000 packets by default).
  # Under TCG the softirq that drains it is slow, a burst of large SENDs overflows it, and
  # rxe answers a dropped packet with retries and RNR NAKs (the suites' RNR counter checks
  # failed on a loaded host with "softnet backlog drops"). This guest is ours: a deep queue.
  echo 100000 >/proc/sys/net/core/netdev_max_backlog || return 1
  sr_pair_up || return 1
  sr_pair_flap >/dev/null
}
if [[ ${SR_DEVICES:-1} == 1 ]] && ! setup_rxe >>"$RUN/setup.log" 2>&1; then
  echo "softroce: rxe setup failed:" >>"$RUN/stderr"
  cat "$RUN/setup.log" >>"$RUN/stderr"
  finish 125
fi

# Kernel TLS (the tcp "tls" ULP) for the kTLS path's suites (test/connect/ktls.test.ts):
# loaded here, as an administrator would, since the library never loads modules itself.
modprobe tls >>"$RUN/setup.log" 2>&1 || echo "softroce: modprobe tls failed (kTLS unavailable in the guest)" >>"$RUN/stderr"

(
  source "$RUN/env.sh"  # the caller's environment, `cd` to its cwd, SR_CMD=(argv)
  export SOFTROCE=1 SOFTROCE_MODE=guest SOFTROCE_RUNDIR=$RUN
  if [[ ${SR_DEVICES:-1} == 1 ]]; then
    export SOFTROCE_SERVER_IP=$SR_IP0 SOFTROCE_CLIENT_IP=$SR_IP1 SOFTROCE_SERVER_DEVICE=$SR_DEV0 \
      SOFTROCE_CLIENT_DEVICE=$SR_DEV1 SOFTROCE_SERVER_NETDEV=$SR_NET0 SOFTROCE_CLIENT_NETDEV=$SR_NET1
    # The earlier names, which this repository's suites and benchmarks read.
    export SOFTROCE_IP0=$SR_IP0 SOFTROCE_IP1=$SR_IP1 SOFTROCE_DEV0=$SR_DEV0 SOFTROCE_DEV1=$SR_DEV1
  fi
  if [[ $SR_INTERACTIVE == 1 ]]; then
    exec "${SR_CMD[@]}"
  else
    exec "${SR_CMD[@]}" </dev/null 2>>"$RUN/stderr"
  fi
)
finish $?
