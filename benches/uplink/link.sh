#!/usr/bin/env bash
# An emulated venue uplink between two network namespaces (root; this kernel has no netem):
#   wsync-cli (10.77.0.1) ==veth== wsync-srv (10.77.0.2)
#   client -> server: tbf at RATE_MBIT on the client's egress (the bottleneck and its queue),
#                     every LOSS_EVERY-th packet dropped as it reaches the server (nft numgen)
#   server -> client: held RTT_MS by delay.py (NFQUEUE) on the client's receive path,
#                     optionally capped at DOWN_RATE_MBIT
# Usage: link.sh up | down | status
# env: RATE_MBIT (30), RTT_MS (40), LOSS_EVERY (200 = 0.5 %), QUEUE_MS (tbf queue, = RTT_MS),
#      DOWN_RATE_MBIT (0 = uncapped), CC (default congestion control in both namespaces;
#      unset: the host's, bbr here). 0 turns rate, delay or loss off.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
CLI=wsync-cli SRV=wsync-srv
CIF=wsync-c SIF=wsync-s
CIP=10.77.0.1 SIP=10.77.0.2
rate="${RATE_MBIT:-30}" rtt="${RTT_MS:-40}" every="${LOSS_EVERY:-200}"
qms="${QUEUE_MS:-$rtt}" down_rate="${DOWN_RATE_MBIT:-0}"
run=/run/wsync-uplink
QNUM=0

in_cli() { ip netns exec "$CLI" "$@"; }
in_srv() { ip netns exec "$SRV" "$@"; }
# Is a program bound to the delay queue? (The kernel lists a queue only while one is.)
bound() {
  in_cli awk -v q="$QNUM" '$1 == q { ok = 1 } END { exit !ok }' /proc/net/netfilter/nfnetlink_queue 2> /dev/null
}

# tbf on DEV at MBIT. The bucket holds ~2 ms of rate (at least 4 full frames): big enough
# that a 2-3 segment TSO burst passes whole, small enough that the link never runs much
# above its rate after an idle spell. The queue holds QUEUE_MS at the rate (default one
# RTT, the usual one-BDP router buffer); beyond it tbf drops, as a full router would.
shape() {
  local ns="$1" dev="$2" mbit="$3"
  local burst=$((mbit * 1000000 / 8 * 2 / 1000))
  [ "$burst" -ge 6056 ] || burst=6056
  ip netns exec "$ns" tc qdisc replace dev "$dev" root tbf rate "${mbit}mbit" burst "$burst" \
    latency "$((qms > 1 ? qms : 1))ms"
}

down() {
  # Whatever runs in our namespaces (the delay line, a server left by a caller) is useless
  # once they go and would keep them alive, so it goes first: TERM, then KILL.
  local pids
  pids="$( { ip netns pids "$CLI"; ip netns pids "$SRV"; } 2> /dev/null || true)"
  if [ -n "$pids" ]; then
    kill $pids 2> /dev/null || true
    for _ in $(seq 20); do
      pids="$( { ip netns pids "$CLI"; ip netns pids "$SRV"; } 2> /dev/null || true)"
      [ -z "$pids" ] && break
      sleep 0.1
    done
    [ -n "$pids" ] && kill -9 $pids 2> /dev/null || true
  fi
  # Deleting a namespace destroys its end of the veth, and so the pair.
  ip netns del "$CLI" 2> /dev/null || true
  ip netns del "$SRV" 2> /dev/null || true
  [ -f "$run/allowed_cc" ] && sysctl -qw net.ipv4.tcp_allowed_congestion_control="$(cat "$run/allowed_cc")"
  rm -rf "$run"
}

up() {
  for v in "$rate" "$rtt" "$every" "$qms" "$down_rate"; do
    [[ "$v" =~ ^[0-9]+$ ]] || { echo "link.sh: RATE_MBIT, RTT_MS, LOSS_EVERY, QUEUE_MS, DOWN_RATE_MBIT: whole numbers" >&2; exit 2; }
  done
  "$here/install.sh"
  down
  trap 'echo "link.sh: up failed, tearing down" >&2; down' ERR
  mkdir -p "$run"
  # A namespace may only default to a congestion control on the host's allowed list (the
  # list unprivileged sockets may pick from); widen it for CC, and restore it on down.
  local allowed
  allowed="$(sysctl -n net.ipv4.tcp_allowed_congestion_control)"
  if [ -n "${CC:-}" ] && ! grep -qw -- "$CC" <<< "$allowed"; then
    echo "$allowed" > "$run/allowed_cc"
    sysctl -qw net.ipv4.tcp_allowed_congestion_control="$allowed $CC"
  fi
  ip netns add "$CLI"
  ip netns add "$SRV"
  ip link add "$CIF" netns "$CLI" type veth peer name "$SIF" netns "$SRV"
  for side in "$CLI:$CIF:$CIP" "$SRV:$SIF:$SIP"; do
    IFS=: read -r ns dev addr <<< "$side"
    # IPv4 only on the link: no IPv6 router solicitations or DAD in the counters.
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
    [ -z "${CC:-}" ] || ip netns exec "$ns" sysctl -qw "net.ipv4.tcp_congestion_control=$CC"
    # One packet on the wire is one packet to tbf, to numgen and to the delay line: with
    # TSO/GSO a 64 KB super-packet would be dropped or shaped as one, with GRO the receiver
    # would count ~40 segments as one.
    ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off 2> /dev/null
    ip netns exec "$ns" ip addr add "$addr/24" dev "$dev"
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip link set "$dev" up
  done

  [ "$rate" != 0 ] && shape "$CLI" "$CIF" "$rate"
  [ "$down_rate" != 0 ] && shape "$SRV" "$SIF" "$down_rate"

  # Loss where the data arrives, before anything else sees it (priority raw): the 200th,
  # 400th, ... packet (not the 1st, which would be the first SYN). The first rule only
  # counts, so `status` can show the loss rate actually applied.
  if [ "$every" != 0 ]; then
    in_srv nft -f - << EOF
table inet wsync_uplink {
  chain loss {
    type filter hook prerouting priority raw; policy accept;
    iifname "$SIF" ip saddr $CIP counter comment "from client"
    iifname "$SIF" ip saddr $CIP numgen inc mod $every == $((every - 1)) counter drop comment "lost"
  }
}
EOF
  fi

  # The whole RTT on the client's receive path: only the return traffic (ACKs, responses)
  # goes through Python, about half the packets of the data direction, and the sender sees
  # the same RTT as with 20 ms each way. The data in flight sits in the kernel's queue for
  # this NFQUEUE, past the sender's qdisc, so TCP Small Queues does not throttle it.
  if [ "$rtt" != 0 ]; then
    py=/usr/bin/python3
    [ -x "$py" ] || py="$(command -v python3)"
    in_cli iptables -t mangle -A PREROUTING -i "$CIF" -j NFQUEUE --queue-num "$QNUM" --queue-bypass
    # setsid: a Ctrl-C in the caller's terminal must not take the delay line with it.
    # (Started directly, not through in_cli, so that $! is delay.py's own pid.)
    ip netns exec "$CLI" setsid "$py" "$here/delay.py" "$QNUM" "$rtt" >> "$run/delay.log" 2>&1 < /dev/null &
    echo $! > "$run/delay.pid"
    # --queue-bypass means an unbound queue passes packets undelayed, so wait for the bind
    # rather than let a benchmark run on a link without its RTT.
    for _ in $(seq 50); do
      bound && break
      sleep 0.1
    done
    bound || { echo "link.sh: delay.py did not bind queue $QNUM:" >&2; cat "$run/delay.log" >&2; false; }
  fi
  in_cli ping -c 1 -W 2 -q "$SIP" > /dev/null ||
    in_cli ping -c 1 -W 2 -q "$SIP" > /dev/null || { echo "link.sh: $SIP unreachable" >&2; false; }
  echo "link up: $CLI $CIP -> $SRV $SIP, ${rate} Mbit/s up, ${rtt} ms RTT, loss every ${every}th packet up (0 = none)"
}

status() {
  echo "== $CLI qdisc"; in_cli tc -s qdisc show dev "$CIF"
  echo "== $SRV qdisc"; in_srv tc -s qdisc show dev "$SIF"
  echo "== $SRV loss (nft counters)"; in_srv nft list table inet wsync_uplink 2> /dev/null | grep counter || true
  # queue, portid, held now, copy mode, range, dropped (full), dropped (socket), last id
  echo "== $CLI delay queue"; in_cli cat /proc/net/netfilter/nfnetlink_queue
  if [ -f "$run/delay.pid" ]; then
    # With --queue-bypass a dead delay line fails open: the link works, without its RTT.
    if bound; then
      echo "delay.py pid $(cat "$run/delay.pid")"
    else
      echo "delay.py NOT bound: packets pass undelayed (link.sh up again)"
    fi
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
