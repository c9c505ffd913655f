#!/usr/bin/env bash
# Puts the demo's converted MNIST model into www/model (converting the committed ONNX fixture when it changed).
set -euo pipefail
cd "$(dirname "$0")/.."
src=tests/fixtures/mnist/mnist_cnn.onnx
out=www/model
if [ ! -f "$src" ]; then
  echo "[demo-model] $src not present yet: the demo page loads without a model"
  exit 0
fi
if [ ! -f "$out/model.json" ] || [ "$src" -nt "$out/model.json" ]; then
  cargo build --release --quiet --bin webinfer
  rm -rf "$out"
  ./target/release/webinfer convert "$src" "$out" --quantize float16
fi
echo "[demo-model] $out/model.json ready"
