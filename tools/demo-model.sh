#!/usr/bin/env bash
# The demo's model repository, made the way a user publishes one: `webinfer publish` puts the MNIST MLP in
# www/models/mnist/0001 and the float16 MNIST CNN in 0002 (the latest), with versions.json beside them. The demo
# loads it through the ModelStore (pkg/store.js), so the page can offer the upgrade from 1 to 2 and the rollback.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p webinfer-converter
webinfer=target/release/webinfer
rm -rf www/models
"$webinfer" publish tests/fixtures/mnist/mnist_mlp.onnx www/models/mnist --version 1 >/dev/null
"$webinfer" publish tests/fixtures/mnist/mnist_cnn.onnx www/models/mnist --version 2 --quantize float16 >/dev/null
"$webinfer" versions www/models/mnist | sed 's/^/[demo-model] /'
echo "[demo-model] www/models ready ($(du -sh www/models | cut -f1))"
