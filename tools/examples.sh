#!/usr/bin/env bash
# `make examples`: builds examples/vite and examples/webpack with their real tools against the package as npm
# ships it (npm pack of pkg/, installed into each app), then puts the MNIST CNN and one held-out digit beside the
# built output, which tests/page/examples.test.mjs serves (never a dev server).
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/out/examples
rm -rf "$out" && mkdir -p "$out"
tarball=$(cd pkg && npm pack --silent --pack-destination "../$out")
node -e '
  const fs = require("fs");
  const npy = (p) => { const b = fs.readFileSync(p); const h = b.readUInt16LE(8); return new Uint8Array(b.subarray(10 + h)); };
  const x = new Uint16Array(npy("tests/fixtures/mnist/heldout_x_milli.npy").slice(0, 784 * 2).buffer);
  const label = npy("tests/fixtures/mnist/heldout_y.npy")[0];
  fs.writeFileSync(process.argv[1], JSON.stringify({ pixels: Array.from(x, (v) => v / 1000), label }));
' "$out/digit.json"
for app in vite webpack; do
  echo "[examples] $app: npm ci, npm install $tarball, npm run build"
  (cd "examples/$app" && npm ci --silent --no-audit --no-fund && npm install --silent --no-save --no-audit --no-fund "../../$out/$tarball" && npm run --silent build)
  cp -r tests/fixtures/mnist/converted/cnn "examples/$app/dist/model"
  cp "$out/digit.json" "examples/$app/dist/"
done
