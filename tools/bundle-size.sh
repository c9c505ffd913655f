#!/usr/bin/env bash
# Gzipped size of what a page downloads (one wasm + the JS: index.js and webinfer.js, each gzipped on its own as a
# server sends them), built as `make pkg`
# builds it, for each wasm (baseline simd128 and relaxed SIMD): the default features (CPU + WebGPU + TF.js
# translators) and without the translators, in KB of 1000 bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
size() {
  local dir=$1 wasm_file wasm js
  js=$(($(gzip -9c "$dir/index.js" | wc -c) + $(gzip -9c "$dir/webinfer.js" | wc -c)))
  for wasm_file in webinfer_bg.wasm webinfer_relaxed_bg.wasm; do
    wasm=$(gzip -9c "$dir/$wasm_file" | wc -c)
    printf '%-28s %-26s %6.1f KB gzipped (wasm %6.1f KB + JS %5.1f KB)\n' "$2" "$wasm_file" \
      "$(((wasm + js) / 100))e-1" "$((wasm / 100))e-1" "$((js / 100))e-1"
  done
}
./tools/build-pkg.sh "$out/default" >/dev/null 2>&1
size "$out/default" "default (cpu+webgpu+tfjs)"
./tools/build-pkg.sh "$out/no-tfjs" --no-default-features --features webgpu >/dev/null 2>&1
size "$out/no-tfjs" "without translators"
