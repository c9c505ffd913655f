#!/usr/bin/env bash
# Regenerates tests/fixtures/mnist/converted/ (used by the browser tests and the demo) from the ONNX fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p webinfer-converter
m=tests/fixtures/mnist
./target/release/webinfer convert $m/mnist_mlp.onnx $m/converted/mlp
./target/release/webinfer convert $m/mnist_cnn.onnx $m/converted/cnn
./target/release/webinfer convert $m/mnist_cnn.onnx $m/converted/cnn-f16 --quantize float16
