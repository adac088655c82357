#!/usr/bin/env bash
# Everything that needs an NVIDIA GPU, in one run, for a machine that has one: what
# `wedsync doctor` finds, the CUDA parity tests (required here: a skip is a failure), and
# `wedsync bench gpu` on CUDA at 24 and 45 MP with 16 decode threads, beside the CPU path,
# then once more at 24 MP with pageable copies (WEDSYNC_CUDA_PAGEABLE) to weigh pinning.
# Needs the NVIDIA driver and NVRTC (scripts/install-deps puts the NVRTC wheel in
# ~/.cache/wedsync/nvrtc). Usage: benches/gpu.sh [RAW]
set -euo pipefail
cd "$(dirname "$0")/.."
raw="${1:-../shared/samples/canon-eos30d-IMG_5952.CR2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wedsync/target}"
export LD_LIBRARY_PATH="$HOME/.cache/wedsync/nvrtc/nvidia/cuda_nvrtc/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
cargo build --release -q -p wedsync-cli
W="$CARGO_TARGET_DIR/release/wedsync"
"$W" doctor
WEDSYNC_REQUIRE_CUDA=1 cargo test --release -q -p wedsync-develop --test develop cuda -- --nocapture
"$W" bench gpu "$raw" --backend cuda --megapixels 24,45 --runs 3 --threads 16 --frames 64
WEDSYNC_CUDA_PAGEABLE=1 "$W" bench gpu "$raw" --backend cuda --megapixels 24 --runs 3 --threads 16 --frames 64
