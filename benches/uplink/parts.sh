#!/usr/bin/env bash
# Concatenation over the emulated venue uplink (benches/uplink/link.sh: 30 Mbit/s, 40 ms
# RTT, 0.5 % loss): one large original sent by `wedsync upload` as one upload (--parts 1)
# and as parallel parts (--parts 4), and by tus-js-client, in the same run. Both namespaces
# use CUBIC, the default on Windows and macOS (and most Linux), a loss-based congestion
# control under which one lossy flow cannot fill the link. TCP_CC=bbr compares with this
# machine's default, which loss barely slows.
# Usage (root): benches/uplink/parts.sh     env: SIZE_MB (60), TCP_CC (cubic)
set -euo pipefail
cd "$(dirname "$0")/../.."
size_mb="${SIZE_MB:-60}"
cc="${TCP_CC:-cubic}"
LINK_CC="$cc"
source benches/uplink/common.sh

mkdir -p "$work/card"
head -c "$((size_mb * 1000000))" /dev/urandom > "$work/card/BIG_0001.CR3"

ours() { # parts
  local t0
  t0=$(now)
  "${CLI[@]}" env WEDSYNC_HOME="$work/home-$1" "$W" upload "$work/card" --preset none --originals \
    --to "$url" --token "$token" --parts "$1" > "$work/ours-$1.log" 2>&1 || { tail -5 "$work/ours-$1.log"; exit 1; }
  since "$t0"
}
t1=$(ours 1)
t4=$(ours 4)
opts=$(python3 -c 'import json,sys; print(json.dumps({"endpoint": sys.argv[1], "token": sys.argv[2], "files": [sys.argv[3]], "mode": "plain", "chunkSize": 8388608, "concurrency": 1, "retryDelays": [500, 1000, 2000, 4000]}))' "$url" "$token" "$work/card/BIG_0001.CR3")
t0=$(now)
"${CLI[@]}" node tests/peers/node/tus-upload.mjs "$opts" > "$work/peer.log" 2>&1 || { grep -m 5 error "$work/peer.log"; exit 1; }
tp=$(since "$t0")

awk -v mb="$size_mb" -v cc="$cc" -v t1="$t1" -v t4="$t4" -v tp="$tp" 'BEGIN {
  printf "one %d MB file over 30 Mbit/s, 40 ms RTT, 0.5 %% loss; client congestion control %s\n", mb, cc
  printf "%-40s %8s %8s %12s\n", "", "seconds", "Mbit/s", "utilisation"
  split("wedsync upload --parts 1|wedsync upload --parts 4|tus-js-client", name, "|")
  t[1] = t1; t[2] = t4; t[3] = tp
  for (i = 1; i <= 3; i++)
    printf "%-40s %8.1f %8.1f %11.0f%%\n", name[i], t[i], mb * 8 / t[i], 100 * mb * 8 / t[i] / 30
  printf "--parts 4: %.2fx the time of --parts 1, %.2fx that of tus-js-client\n", t4 / t1, t4 / tp
}'
