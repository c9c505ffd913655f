#!/usr/bin/env bash
# `make bench-convert`: converts a ~100 MB ONNX model (generated, not committed) and reports MB/s and peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${ONNX_VENV:-.venv-onnx}
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q -r tools/requirements-onnx.txt; }
model=target/bench/big_mlp.onnx
mkdir -p target/bench
[ -f "$model" ] || "$venv/bin/python" tools/make_big_onnx.py "$model"
cargo build --release --quiet -p webinfer-converter
size=$(stat -c %s "$model")
for run in 1 2 3; do
  rm -rf target/bench/out
  /usr/bin/time -f "%e %M" -o target/bench/time.txt ./target/release/webinfer convert "$model" target/bench/out > /dev/null
  read -r seconds rss_kb < target/bench/time.txt
  awk -v s="$seconds" -v r="$rss_kb" -v b="$size" -v n="$run" 'BEGIN {
    printf "run %d: %.1f MB in %.2f s = %.0f MB/s, peak RSS %.0f MB = %.2fx the model\n", n, b/1e6, s, b/1e6/s, r*1024/1e6, r*1024/b }'
done
