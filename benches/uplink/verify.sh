#!/usr/bin/env bash
# Checks the emulated uplink does what it says and prints the figures for the README:
# RTT, bulk goodput (bbr and cubic) as % of the rate, the loss actually applied, the delay
# line's CPU, and that HTTP across the link and loopback inside each namespace work.
# Brings the link up with its own fresh counters and takes it down at the end. Root.
# env: BULK_MB (30), and link.sh's RATE_MBIT, RTT_MS, LOSS_EVERY
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
CLI=(ip netns exec wsync-cli) SRV=(ip netns exec wsync-srv)
SIP=10.77.0.2
bytes=$((${BULK_MB:-30} * 1000000))
rate="${RATE_MBIT:-30}"
trap '"$here/link.sh" down' EXIT
"$here/link.sh" up

# -U: time from user space to user space. Without it ping reports the kernel's receive
# timestamp, taken before netfilter, i.e. before the delay line, and shows ~0.05 ms.
echo "== RTT: ping -U -c 20 $SIP"
"${CLI[@]}" ping -U -q -c 20 -i 0.2 "$SIP" | tail -2

echo "== HTTP across the link, and loopback in each namespace"
"${SRV[@]}" python3 -m http.server --bind 0.0.0.0 --directory "$here" 8080 > /dev/null 2>&1 &
"${CLI[@]}" python3 -m http.server --bind 127.0.0.1 --directory "$here" 8081 > /dev/null 2>&1 &
sleep 1
ok() { if "$@" > /dev/null; then echo ok; else echo FAILED; fi; }
echo "client -> http://$SIP:8080/README.md:  $(ok "${CLI[@]}" curl -sf --max-time 5 "http://$SIP:8080/README.md")"
echo "server -> http://127.0.0.1:8080/:          $(ok "${SRV[@]}" curl -sf --max-time 5 http://127.0.0.1:8080/)"
echo "client -> http://127.0.0.1:8081/:          $(ok "${CLI[@]}" curl -sf --max-time 5 http://127.0.0.1:8081/)"
echo "client ping 127.0.0.1 / server ping 127.0.0.1: $(ok "${CLI[@]}" ping -c 2 -i 0.2 -q 127.0.0.1) / $(ok "${SRV[@]}" ping -c 2 -i 0.2 -q 127.0.0.1)"
"${CLI[@]}" curl -s -o /dev/null --max-time 5 -w 'GET across the link: connect %{time_connect} s, total %{time_total} s (1 and 2 RTT)\n' \
  "http://$SIP:8080/README.md"

# Counters of the loss rule (packets from the client, and those dropped).
loss_counts() {
  "${SRV[@]}" nft list table inet wsync_uplink | awk '/counter packets/ {
    for (i = 1; i <= NF; i++) if ($i == "packets") printf "%s ", $(i + 1) }'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$(cat /run/wsync-uplink/delay.pid)/stat"; }
hz=$(getconf CLK_TCK)

# FLOWS parallel senders share BYTES. Goodput: all bytes over the slowest sender's time
# (each times itself from connect() to the receiver's count, so startup is not counted).
bulk() {
  local cc="$1" flows="$2" rpid c0 c1 t0 t1 out
  "${SRV[@]}" python3 "$here/tcpbulk.py" recv "$SIP" 5201 "$flows" &
  rpid=$!
  sleep 0.3
  c0=$(cpu_ticks) t0=$(date +%s.%N)
  out="$(for _ in $(seq "$flows"); do
    "${CLI[@]}" python3 "$here/tcpbulk.py" send "$SIP" 5201 $((bytes / flows)) "$cc" &
  done; wait)"
  c1=$(cpu_ticks) t1=$(date +%s.%N)
  wait "$rpid"
  awk -v r="$rate" -v f="$flows" -v c=$((c1 - c0)) -v hz="$hz" -v t0="$t0" -v t1="$t1" '{
    for (i = 1; i <= NF; i++) { split($i, p, "="); v[p[1]] = p[2] }
    cc = v["cc"]; b += v["bytes"]; segs += v["segs_out"]; re += v["retrans"]; rtt += v["srtt_ms"]
    if (v["seconds"] > secs) secs = v["seconds"]
  } END {
    mbit = b * 8 / secs / 1e6
    printf "%-5s %d flow%s %6.2f Mbit/s = %5.1f %% of %s, %5.1f s, srtt %4.1f ms, retrans %.2f %%, delay.py CPU %4.1f %% of a core\n",
      cc, f, (f > 1 ? "s" : " "), mbit, 100 * mbit / r, r, secs, rtt / NR, 100 * re / segs, 100 * c / hz / (t1 - t0) }' <<< "$out"
}

echo "== bulk TCP client -> server, $((bytes / 1000000)) MB per run (link: $rate Mbit/s)"
read -r seen0 lost0 <<< "$(loss_counts)"
for flows in 1 4; do
  for cc in bbr cubic; do bulk "$cc" "$flows"; done
done
read -r seen1 lost1 <<< "$(loss_counts)"
awk -v s=$((seen1 - seen0)) -v l=$((lost1 - lost0)) 'BEGIN {
  printf "loss applied: %d of %d packets from the client = %.3f %%\n", l, s, 100 * l / s }'
"${CLI[@]}" awk '{ printf "delay queue: dropped when full %s, socket overruns %s\n", $6, $7 }' \
  /proc/net/netfilter/nfnetlink_queue
