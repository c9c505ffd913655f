#!/usr/bin/env bash
# The cargo-fuzz targets (fuzz/, docs/RELIABILITY.md), seeded from the committed fixtures.
#   tools/fuzz.sh seed                 writes fuzz/seeds/<target>/ from tests/ (done by the other commands too)
#   tools/fuzz.sh smoke [SECONDS]      every target for SECONDS (default 20) each, from a fixed seed so the
#                                      inputs tried do not change between runs: `make fuzz-smoke`
#   tools/fuzz.sh run TARGET SECONDS [RUNS]  one target for SECONDS or RUNS executions, whichever ends first,
#                                      keeping what it finds in fuzz/corpus/TARGET
# A crash, panic, timeout (over 1 s) or allocation over 1 GiB fails the run and leaves the input in
# fuzz/artifacts/TARGET/; commit it under fuzz/regressions/TARGET/ so plain `cargo test` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
targets=(model_json shards onnx tfjs npy keras_zip)
seeds=$root/fuzz/seeds

webinfer_bin() {
  cargo build --quiet -p webinfer-converter --bin webinfer
  echo "$root/target/debug/webinfer"
}

# model.json, a NUL byte, then the shards in manifest order: the layout of the model_json, shards and tfjs targets.
pack_model() {
  local dir=$1 out=$2
  {
    cat "$dir/model.json"
    printf '\0'
    python3 -c 'import json,sys; [print(p) for g in json.load(open(sys.argv[1])).get("weightsManifest", []) for p in g["paths"]]' \
      "$dir/model.json" | while read -r shard; do cat "$dir/$shard"; done
  } > "$out"
}

seed() {
  rm -rf "$seeds"
  mkdir -p "${targets[@]/#/$seeds/}"
  local bin tmp case name
  bin=$(webinfer_bin)
  tmp=$(mktemp -d)
  for case in tests/onnx_ops/*/; do
    name=$(basename "$case")
    cp "$case/model.onnx" "$seeds/onnx/ops-$name.onnx"
    "$bin" convert "$case/model.onnx" "$tmp/$name" >/dev/null
    pack_model "$tmp/$name" "$seeds/model_json/$name"
    cp "$seeds/model_json/$name" "$seeds/shards/$name"
  done
  for case in tests/onnx_node/*/; do
    cp "$case/model.onnx" "$seeds/onnx/node-$(basename "$case").onnx"
  done
  cp tests/fixtures/onnx/*.onnx "$seeds/onnx/"
  for dir in tests/fixtures/interop/*/tfjs_*/; do
    name=$(basename "$(dirname "$dir")")-$(basename "$dir")
    pack_model "$dir" "$seeds/tfjs/$name"
    case $dir in *uint8*|*uint16*|*float16*) cp "$seeds/tfjs/$name" "$seeds/shards/$name" ;; esac
  done
  "$bin" convert tests/fixtures/interop/mlp/model.keras --quantize uint8 "$tmp/mlp-uint8" >/dev/null
  pack_model "$tmp/mlp-uint8" "$seeds/shards/mlp-uint8"
  find tests/fixtures -name '*.npy' -size -64k | while read -r f; do
    cp "$f" "$seeds/npy/$(echo "${f#tests/fixtures/}" | tr / -)"
  done
  # The .keras zips with their config and metadata, and a stand-in for the weights file (not fuzzed: libhdf5's).
  python3 - "$seeds/keras_zip" tests/fixtures/interop/*/model.keras <<'EOF'
import sys, zipfile
out, files = sys.argv[1], sys.argv[2:]
for f in files:
    name = f.split("/")[-2]
    with zipfile.ZipFile(f) as src, zipfile.ZipFile(f"{out}/{name}.keras", "w", zipfile.ZIP_DEFLATED) as dst:
        for entry in ("config.json", "metadata.json"):
            dst.writestr(entry, src.read(entry))
        dst.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n")
EOF
  rm -rf "$tmp"
}

run_target() {
  local target=$1 seconds=$2 runs=${3:--1}
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  (cd fuzz && cargo fuzz run --release --debug-assertions "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -runs="$runs" -seed="${FUZZ_SEED:-0}" -timeout=1 -rss_limit_mb=2560 -malloc_limit_mb=1024 -max_len=65536 \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1)
}

case ${1:-} in
  seed) seed ;;
  smoke)
    seed
    (cd fuzz && cargo fuzz build --release --debug-assertions)
    for target in "${targets[@]}"; do
      echo "fuzz-smoke: $target for ${2:-20} s"
      log=fuzz/artifacts/$target.log
      mkdir -p fuzz/artifacts
      if ! FUZZ_SEED=1 run_target "$target" "${2:-20}" > "$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz-smoke: $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
      fi
      grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log"
    done
    ;;
  run)
    [ -d "$seeds/${2:?target}" ] || seed
    run_target "$2" "${3:?seconds}" "${4:--1}"
    ;;
  *) sed -n '2,7p' "$0" >&2; exit 2 ;;
esac
