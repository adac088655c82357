#!/usr/bin/env bash
# The venue-uplink benchmark (issue 4): over an emulated 30 Mbit/s, 40 ms RTT, 0.5 % loss
# link (benches/uplink/link.sh, network namespaces, root), how soon are the `web`
# renditions of FRAMES RAW files verified on `wedsync serve` — developed on this machine
# while they upload — against tus-js-client sending the original RAW files over the same
# link in the same run? Also the link utilisation of `wedsync upload` sending originals.
# Usage (root): benches/uplink/bench.sh     env: FRAMES (200), UTIL_FRAMES (20), RATE_MBIT (30)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
frames_n="${FRAMES:-200}"
util_n="${UTIL_FRAMES:-20}"
rate_mbit="${RATE_MBIT:-30}"
export RATE_MBIT="$rate_mbit"
source benches/uplink/common.sh

# Distinct RAW frames (each its own file and rendition), made once and kept.
frames="$HOME/.cache/wedsync/bench-frames-$frames_n"
if [ "$(ls "$frames" 2>/dev/null | wc -l)" -ne "$frames_n" ]; then
  rm -rf "$frames"
  "$W" bench frames ../shared/samples/canon-eos30d-IMG_5952.CR2 --count "$frames_n" --out "$frames"
fi

bytes_received() {
  "${CLI[@]}" curl -sf -H "Authorization: Bearer $admin" "http://$server_ip:1080/admin/stats" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_received_total"])'
}
admin="$("$W" serve token add ops --admin --data "$work/data" | tail -n 1)"

# 1. Ours: every `web` rendition verified, developing while uploading.
t0=$(now)
"${CLI[@]}" env WEDSYNC_HOME="$work/home-web" "$W" upload "$frames" --preset web --to "$url" --token "$token" \
  > "$work/web.log" 2>&1 || { tail -5 "$work/web.log"; exit 1; }
t_web=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
web_bytes=$(du -cb "$work"/home-web/cache/*.jpg | tail -n 1 | cut -f1)

# 2. Ours, originals only (the link is the bottleneck): utilisation.
mkdir -p "$work/util"
ls "$frames" | head -n "$util_n" | while read -r f; do ln -s "$frames/$f" "$work/util/$f"; done
before=$(bytes_received)
t0=$(now)
"${CLI[@]}" env WEDSYNC_HOME="$work/home-orig" "$W" upload "$work/util" --preset none --originals \
  --to "$url" --token "$token" > "$work/orig.log" 2>&1 || { tail -5 "$work/orig.log"; exit 1; }
t_orig=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
orig_bytes=$(( $(bytes_received) - before ))

# 3. The peer: tus-js-client sends the original RAW files, 4 at a time, 8 MiB chunks.
files_json=$(ls "$frames" | python3 -c 'import json,sys; d=sys.argv[1]; print(json.dumps([d+"/"+l.strip() for l in sys.stdin]))' "$frames")
opts=$(python3 -c 'import json,sys; print(json.dumps({"endpoint": sys.argv[1], "token": sys.argv[2], "files": json.loads(sys.argv[3]), "mode": "plain", "chunkSize": 8388608, "concurrency": 4, "retryDelays": [500, 1000, 2000, 4000, 8000]}))' "$url" "$token" "$files_json")
before=$(bytes_received)
t0=$(now)
"${CLI[@]}" node tests/peers/node/tus-upload.mjs "$opts" > "$work/peer.log" 2>&1 ||
  { grep -m 5 error "$work/peer.log"; exit 1; }
t_peer=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
peer_bytes=$(( $(bytes_received) - before ))

awk -v n="$frames_n" -v u="$util_n" -v r="$rate_mbit" -v tw="$t_web" -v bw="$web_bytes" \
  -v to="$t_orig" -v bo="$orig_bytes" -v tp="$t_peer" -v bp="$peer_bytes" 'BEGIN {
  link = r * 1e6 / 8
  printf "link: %s Mbit/s, 40 ms RTT, 0.5 %% loss (benches/uplink/link.sh)\n", r
  printf "%-52s %9s %9s %12s\n", "", "seconds", "MB", "utilisation"
  printf "%-52s %9.1f %9.1f %11.0f%%\n", "wedsync upload: " n " RAW -> web, all verified", tw, bw / 1e6, 100 * bw / tw / link
  printf "%-52s %9.1f %9.1f %11.0f%%\n", "wedsync upload: " u " originals", to, bo / 1e6, 100 * bo / to / link
  printf "%-52s %9.1f %9.1f %11.0f%%\n", "tus-js-client: " n " originals, 4 at a time", tp, bp / 1e6, 100 * bp / tp / link
  printf "web renditions verified %.1fx sooner than tus-js-client sends the RAW files\n", tp / tw
}'
