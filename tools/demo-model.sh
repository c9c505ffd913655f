#!/usr/bin/env bash
# Puts the demo's converted MNIST CNN (float16, committed under tests/fixtures/mnist/converted/cnn-f16 and
# kept current by the converter's tests) into www/model.
set -euo pipefail
cd "$(dirname "$0")/.."
src=tests/fixtures/mnist/converted/cnn-f16
if [ ! -f "$src/model.json" ]; then
  echo "[demo-model] $src missing: run tools/convert-fixtures.sh" >&2
  exit 1
fi
rm -rf www/model && mkdir -p www/model && cp "$src"/* www/model/
echo "[demo-model] www/model ready ($(du -sh www/model | cut -f1))"
