#!/usr/bin/env bash
# Where a development's CPU time goes, by part of the JPEG encoder: profiles `wedsync develop`
# of N copies of a RAW at a preset with perf, and sums the samples of libjpeg's front end
# (colour conversion, downsampling, DCT, quantisation — what a GPU JPEG front end would take
# over) and of its entropy coding (Huffman statistics and coding), beside everything else.
# The measurement behind "the JPEG encoder stays on the CPU" in the README.
# Usage: benches/jpeg_share.sh [RAW] [PRESET] [COPIES]   (needs perf: apt install linux-perf)
set -euo pipefail
cd "$(dirname "$0")/.."
raw="${1:-../shared/samples/canon-eos30d-IMG_5952.CR2}"
preset="${2:-full}"
copies="${3:-6}"
command -v perf >/dev/null || { echo "perf is not installed (apt install linux-perf)" >&2; exit 2; }
[ -f "$raw" ] || { echo "$raw: no such file" >&2; exit 2; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wedsync/target}"
cargo build --release -q -p wedsync-cli
W="$CARGO_TARGET_DIR/release/wedsync"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/in"
ext="${raw##*.}"
for i in $(seq "$copies"); do cp "$raw" "$work/in/frame-$i.$ext"; done
perf record -q -F 1999 -o "$work/perf.data" -- \
  "$W" develop "$work/in" --preset "$preset" --out "$work/out" --jobs 1 --backend cpu
perf report -i "$work/perf.data" --stdio --sort symbol 2>/dev/null | python3 -c '
import re, sys
parts = [
    ("JPEG front end (colour conversion, downsampling, DCT, quantisation)",
     re.compile(r"rgb_ycc|fdct|forward_DCT|quantize|convsamp|downsample|h2v1|h2v2|fullsize")),
    ("JPEG entropy coding (Huffman statistics and coding)",
     re.compile(r"huff|encode_mcu|EMIT|BLOOP|ERLOOP|gen_optimal")),
    ("RAW decoding (rawler)", re.compile(r"rawler::")),
]
shares = {name: 0.0 for name, _ in parts}
rest = 0.0
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+\[.\]\s+(.*)", line)
    if not m:
        continue
    pct, symbol = float(m.group(1)), m.group(2)
    for name, pattern in parts:
        if pattern.search(symbol):
            shares[name] += pct
            break
    else:
        rest += pct
for name, share in shares.items():
    print(f"{share:5.1f} %  {name}")
print(f"{rest:5.1f} %  everything else (develop stages, quality search, memory, kernel)")
front, entropy = (shares[name] for name, _ in parts[:2])
if front + entropy > 0:
    print(f"front end / whole encoder: {front / (front + entropy):.2f}")
'
