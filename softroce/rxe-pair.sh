# rxe-pair.sh — sourced (bash): builds and removes one soft-RoCE pair, the same way in
# both modes (guest-setup.sh in the guest, host-pair.sh on the host): a veth pair, one
# /32 address of the test range 10.77.0.0/24 on each end, an rxe device on each, policy
# routing that makes traffic between the two addresses cross the pair, and the faults
# asked for (tc netem, MTU, a link flap). Nothing is routed anywhere else: the only
# routes added live in the pair's own two tables and match only its two addresses.
#
# Pair variables: SR_NET0 SR_NET1 (veth ends), SR_DEV0 SR_DEV1 (rxe devices), SR_IP0
# SR_IP1, SR_TABLE0 SR_TABLE1. Fault variables (empty: none): SR_LOSS and SR_REORDER
# (percent), SR_DELAY (netem time, e.g. 10ms), SR_MTU (bytes), SR_DOWN_AFTER and
# SR_DOWN_FOR (seconds; the flap takes SR_NET1 down, so both ends lose carrier).

# Both addresses are local, so IP0 -> IP1 would be routed via "lo", where rxe drops it.
# The pair's rules send locally generated traffic between them through the veth pair.
# They go in at preference 0, after the "local" rule, which is then deleted and added
# again: it stays at preference 0, now behind them, and every other rule keeps its place.
sr_pair_up() {
  ip -batch - <<ROUTES || return 1
link set lo up
$(sr_pair_links)
${SR_MTU:+link set $SR_NET0 mtu $SR_MTU}
${SR_MTU:+link set $SR_NET1 mtu $SR_MTU}
addr add $SR_IP0/32 dev $SR_NET0
addr add $SR_IP1/32 dev $SR_NET1
link set $SR_NET0 up
link set $SR_NET1 up
$(sr_pair_routes add)
$(sr_pair_rules add)
$(sr_local_rule_last)
ROUTES
  # accept_local: each end accepts a source address that is its own (the other end's).
  for net in "$SR_NET0" "$SR_NET1"; do
    echo 1 >"/proc/sys/net/ipv4/conf/$net/accept_local" || return 1
    echo 0 >"/proc/sys/net/ipv4/conf/$net/rp_filter" || return 1
  done
  rdma -b - <<LINKS || return 1
link add $SR_DEV0 type rxe netdev $SR_NET0
link add $SR_DEV1 type rxe netdev $SR_NET1
LINKS
  sr_pair_faults
}

# The two linked Ethernet devices, as `ip -batch` lines: a veth pair. bench/softroce-link.sh
# measured it against macvlan and a bridge (it redefines this function to build those):
# neither was clearly better, and a bridge loses RDMA after a flap (docs/SOFTROCE.md,
# "Which link carries the pair").
sr_pair_links() {
  echo "link add $SR_NET0 type veth peer name $SR_NET1"
}

# Moves the "local" rule behind the pair's rules when it is at preference 0 (as it is
# by default); elsewhere it already comes after them.
sr_local_rule_last() {
  [[ -n $(ip rule show pref 0 lookup local) ]] || return 0
  echo "rule del pref 0 lookup local"
  echo "rule add pref 0 lookup local"
}

# The routes of the pair's two tables, as `ip -batch` lines (add, or replace after a flap).
sr_pair_routes() {
  echo "route $1 $SR_IP1/32 dev $SR_NET0 src $SR_IP0 table $SR_TABLE0"
  echo "route $1 $SR_IP0/32 dev $SR_NET1 src $SR_IP1 table $SR_TABLE1"
}

# The pair's four policy rules, as `ip -batch` lines (add or del).
sr_pair_rules() {
  echo "rule $1 pref 0 iif lo from $SR_IP0 to $SR_IP1 lookup $SR_TABLE0"
  echo "rule $1 pref 0 iif lo from $SR_IP1 to $SR_IP0 lookup $SR_TABLE1"
  echo "rule $1 pref 0 oif $SR_NET0 to $SR_IP1 lookup $SR_TABLE0"
  echo "rule $1 pref 0 oif $SR_NET1 to $SR_IP0 lookup $SR_TABLE1"
}

# netem on both ends' egress: loss, delay and reordering apply to each direction.
sr_pair_faults() {
  local netem=()
  [[ -n ${SR_DELAY:-} ]] && netem+=(delay "$SR_DELAY")
  [[ -n ${SR_LOSS:-} ]] && netem+=(loss "$SR_LOSS%")
  [[ -n ${SR_REORDER:-} ]] && netem+=(reorder "$SR_REORDER%")
  if [[ ${#netem[@]} -gt 0 ]]; then
    tc qdisc add dev "$SR_NET0" root netem "${netem[@]}" || return 1
    tc qdisc add dev "$SR_NET1" root netem "${netem[@]}" || return 1
  fi
  return 0
}

# The link flap, in the background (stdout/stderr detached); prints its pid. Taking
# SR_NET1 down deletes the routes through it (table SR_TABLE1's): bringing it up again
# puts them back, or traffic between the two addresses would take "lo" from then on
# (rxe itself still reaches the peer, as it routes with its netdev as the output device).
sr_pair_flap() {
  [[ -n ${SR_DOWN_AFTER:-} ]] || return 0
  (
    sleep "$SR_DOWN_AFTER"
    ip link set "$SR_NET1" down
    if [[ -n ${SR_DOWN_FOR:-} ]]; then
      sleep "$SR_DOWN_FOR"
      ip -batch - <<UP
link set $SR_NET1 up
$(sr_pair_routes replace)
UP
    fi
  ) </dev/null >/dev/null 2>&1 &
  echo $!
}

# Removes the pair (each step on its own: a half-built pair is removed as far as it exists).
sr_pair_down() {
  rdma link delete "$SR_DEV0" 2>/dev/null
  rdma link delete "$SR_DEV1" 2>/dev/null
  sr_pair_rules del | ip -force -batch - 2>/dev/null
  ip link delete "$SR_NET0" 2>/dev/null  # its peer, addresses and table routes go with it
  return 0
}
