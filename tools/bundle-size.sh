#!/usr/bin/env bash
# Gzipped size of the shipped bundle (wasm + JS glue), built as `make pkg` builds it: the default features
# (CPU + WebGPU + TF.js translators) and without the translators, in KB of 1000 bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
size() {
  local dir=$1
  local wasm js
  wasm=$(gzip -9c "$dir/webinfer_bg.wasm" | wc -c)
  js=$(gzip -9c "$dir/webinfer.js" | wc -c)
  printf '%-28s %6.1f KB gzipped (wasm %6.1f KB + JS %5.1f KB)\n' "$2" "$(((wasm + js) / 100))e-1" \
    "$((wasm / 100))e-1" "$((js / 100))e-1"
}
wasm-pack build --release --target web --out-dir "$out/default" >/dev/null 2>&1
size "$out/default" "default (cpu+webgpu+tfjs)"
wasm-pack build --release --target web --out-dir "$out/no-tfjs" --no-default-features --features webgpu >/dev/null 2>&1
size "$out/no-tfjs" "without translators"
