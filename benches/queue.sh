#!/usr/bin/env bash
# The long queue: `wedsync upload` of N small camera files (originals only) to `wedsync serve`
# on 127.0.0.1, for N = 1,000 and 10,000 — wall time, files/s, the uploader's peak resident
# memory (GNU time), and how long `wedsync status` takes while the queue is being worked.
# Flat memory means the 10,000-file peak is close to the 1,000-file one (the ratio printed).
# Usage: benches/queue.sh [SIZES...]   (default: 1000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wedsync/target}"
cargo build --release -q -p wedsync-cli
W="$CARGO_TARGET_DIR/release/wedsync"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000)

work="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
token="$("$W" serve token add bench --data "$work/data" | tail -n 1)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
RUST_LOG=warn "$W" serve --data "$work/data" --listen "127.0.0.1:$port" > /dev/null &
server=$!
sleep 0.5
url="http://127.0.0.1:$port/files"

printf '%8s %8s %9s %10s %14s %14s\n' files "wall s" "files/s" "peak MB" "status med ms" "status max ms"
first_peak=""
for n in "${sizes[@]}"; do
  card="$work/card-$n"
  python3 - "$card" "$n" <<'PY'
import os, sys
card, n = sys.argv[1], int(sys.argv[2])
os.makedirs(card)
for i in range(n):
    with open(os.path.join(card, f"IMG_{i:05d}.JPG"), "wb") as f:
        f.write(os.urandom(4096 + (i * 37) % 8192))
PY
  home="$work/home-$n"
  WEDSYNC_HOME="$home" /usr/bin/time -f "%M %e" -o "$work/time-$n" \
    "$W" upload "$card" --preset none --originals --to "$url" --token "$token" --streams 8 \
    > "$work/log-$n" 2>&1 &
  pid=$!
  : > "$work/status-$n"
  while kill -0 "$pid" 2>/dev/null; do
    t0=$(date +%s%N)
    WEDSYNC_HOME="$home" "$W" status > /dev/null 2>&1 || true
    echo $(( ($(date +%s%N) - t0) / 1000000 )) >> "$work/status-$n"
    sleep 0.5
  done
  wait "$pid" || { echo "upload of $n files failed:"; tail -5 "$work/log-$n"; exit 1; }
  read -r peak_kb wall < "$work/time-$n"
  read -r med max < <(sort -n "$work/status-$n" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[NR]}')
  awk -v n="$n" -v w="$wall" -v k="$peak_kb" -v med="${med:-n/a}" -v max="${max:-n/a}" \
    'BEGIN { printf "%8d %8.1f %9.0f %10.1f %14s %14s\n", n, w, n / w, k / 1024, med, max }'
  grep -q "$n upload(s) verified" "$work/log-$n" || { echo "not every file was verified:"; tail -3 "$work/log-$n"; exit 1; }
  if [ -z "$first_peak" ]; then
    first_peak=$peak_kb
  else
    awk -v a="$peak_kb" -v b="$first_peak" -v n="$n" -v m="${sizes[0]}" \
      'BEGIN { printf "peak memory ratio (%d files / %d files): %.2fx\n", n, m, a / b }'
  fi
done
