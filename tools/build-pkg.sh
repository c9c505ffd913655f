#!/usr/bin/env bash
# `make pkg`: the npm package. wasm-pack builds the baseline simd128 wasm and its JS glue; the same crate is built
# again with relaxed SIMD (fused multiply-add in the CPU kernels) into webinfer_relaxed_bg.wasm beside it, and
# index.js (src/pkg, with probe.js inlined) becomes the entry whose init() picks one of the two with WebAssembly.validate;
# store.js (the ModelStore) ships beside it.
# Usage: tools/build-pkg.sh OUT_DIR [cargo args, e.g. --features testing]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1
shift
relaxed_target=target/relaxed-simd
# wasm-pack runs wasm-opt over every .wasm already in the directory, and a previous relaxed build (stripped of its
# target_features section) does not validate under the baseline's flags: start from a directory without it.
rm -f "$out/webinfer_relaxed_bg.wasm"
wasm-pack build --release --target web --out-dir "$out" -- "$@"

RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" CARGO_TARGET_DIR=$relaxed_target \
  cargo build --release --target wasm32-unknown-unknown --lib "$@"
bindgen=$relaxed_target/bindgen
rm -rf "$bindgen"
wasm-bindgen --target web --typescript --out-dir "$bindgen" "$relaxed_target/wasm32-unknown-unknown/release/webinfer.wasm"
if ! cmp -s "$bindgen/webinfer.js" "$out/webinfer.js"; then
  echo "build-pkg: the relaxed-SIMD build's JS glue differs from the baseline's; both wasm files must share webinfer.js" >&2
  diff "$bindgen/webinfer.js" "$out/webinfer.js" | head -20 >&2
  exit 1
fi
# The release wasm-opt flags wasm-pack used (Cargo.toml), plus the relaxed-SIMD instructions.
read -r -a opt_flags < <(sed -n '/^\[package.metadata.wasm-pack.profile.release\]/,/^\[/{s/^wasm-opt = \[\(.*\)\]/\1/p}' Cargo.toml | tr -d '",')
wasm-opt "${opt_flags[@]}" --enable-relaxed-simd "$bindgen/webinfer_bg.wasm" -o "$out/webinfer_relaxed_bg.wasm"
relaxed_ops() { wasm-dis --all-features "$1" | grep -c 'relaxed_' || true; }
if [ "$(relaxed_ops "$out/webinfer_relaxed_bg.wasm")" -eq 0 ]; then
  echo "build-pkg: webinfer_relaxed_bg.wasm holds no relaxed-SIMD instruction" >&2
  exit 1
fi
if [ "$(relaxed_ops "$out/webinfer_bg.wasm")" -ne 0 ]; then
  echo "build-pkg: the baseline webinfer_bg.wasm holds relaxed-SIMD instructions" >&2
  exit 1
fi
# The entry ships with the probe (src/pkg/probe.js, which the browser suite imports on its own) inlined and without
# comment lines: a page fetches one small script fewer.
inline_probe() { # ENTRY PROBE UNEXPORT
  awk -v probe="$2" -v unexport="$3" '
    /from "\.\/probe\.js";$/ {
      while ((getline line < probe) > 0) {
        if (line ~ /^\/\//) continue
        if (unexport) sub(/^export function/, "function", line)
        print line
      }
      next
    }
    /^\/\// { next }
    { print }' "$1"
}
rm -f "$out/probe.js" "$out/probe.d.ts"
inline_probe src/pkg/index.js src/pkg/probe.js 1 > "$out/index.js"
inline_probe src/pkg/index.d.ts src/pkg/probe.d.ts "" > "$out/index.d.ts"
# The model store (store.js), the worker API (worker.js, engine-worker.js) and request batching (batching.js) are
# modules of their own: a page that does not import one does not download it.
cp src/pkg/store.js src/pkg/store.d.ts src/pkg/worker.js src/pkg/worker.d.ts src/pkg/engine-worker.js src/pkg/batching.js src/pkg/batching.d.ts "$out/"
node tools/package-json.mjs "$out"
