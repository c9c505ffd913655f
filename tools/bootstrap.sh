#!/usr/bin/env bash
# Installs everything webinfer's build and tests need. Idempotent: a no-op in seconds once all is present.
# Cargo-installed tools live under $WEBINFER_TOOLS (default ~/.local/share/webinfer-tools) so later runs reuse them.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
tools=${WEBINFER_TOOLS:-$HOME/.local/share/webinfer-tools}
mkdir -p "$tools/bin"
export PATH="$tools/bin:$tools/node_modules/.bin:$PATH"

CARGO_FUZZ_VERSION=0.13.2

say() { printf '[bootstrap] %s\n' "$*"; }

wasm_bindgen_version() {
  sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p;q}' "$here/Cargo.lock"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else say "need root (or sudo) to run: $*"; exit 1
  fi
}

apt_packages=()
command -v chromium >/dev/null || apt_packages+=(chromium)
command -v chromedriver >/dev/null || apt_packages+=(chromium-driver)
command -v firefox-esr >/dev/null || apt_packages+=(firefox-esr)
# libhdf5 for the converter's Keras .h5/.keras reader (hdf5-metno links the system library).
command -v pkg-config >/dev/null && pkg-config --exists hdf5 || apt_packages+=(libhdf5-dev pkg-config)
[ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || [ -e /usr/share/vulkan/icd.d/lvp_icd.json ] || apt_packages+=(mesa-vulkan-drivers)
if [ ${#apt_packages[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || say "not running as root: using sudo for apt-get"
  say "apt-get install ${apt_packages[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

[ -f "$here/Cargo.lock" ] || (cd "$here" && cargo generate-lockfile)
wbg=$(wasm_bindgen_version)
if [ "$("$tools/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$wbg" ]; then
  say "cargo install wasm-bindgen-cli $wbg (a few minutes, once)"
  cargo install --quiet --root "$tools" wasm-bindgen-cli --version "$wbg" --force
fi

if [ "$("$tools/bin/wasm-pack" --version 2>/dev/null | awk '{print $2}')" != "0.15.1" ]; then
  say "cargo install wasm-pack 0.15.1 (a few minutes, once)"
  cargo install --quiet --root "$tools" wasm-pack --version 0.15.1 --locked --force
fi

# wasm-pack asks the crates.io web API for a newer release at most once a day, as recorded in wasm-pack.stamp beside
# it; that API is out of reach here, so every first build of the day warned "failed to get wasm-pack version". The
# version is pinned on purpose: record it as checked, for good.
stamp="$tools/bin/wasm-pack.stamp"
if ! grep -qs '^version 0.15.1$' "$stamp"; then
  printf 'created 2999-01-01T00:00:00+00:00\nversion 0.15.1' > "$stamp"
fi

if [ "$("$tools/bin/geckodriver" --version 2>/dev/null | awk 'NR==1{print $2}')" != "0.37.1" ]; then
  say "cargo install geckodriver 0.37.1 (a few minutes, once)"
  cargo install --quiet --root "$tools" geckodriver --version 0.37.1 --locked --force
fi

# cargo-fuzz and the nightly fuzz/rust-toolchain.toml pins, for `make fuzz-smoke` (inside `make test`).
fuzz_toolchain=$(sed -n 's/^channel = "\(.*\)"$/\1/p' "$here/fuzz/rust-toolchain.toml")
if ! rustup run "$fuzz_toolchain" rustc --version >/dev/null 2>&1; then
  say "rustup toolchain install $fuzz_toolchain (for cargo-fuzz)"
  rustup toolchain install "$fuzz_toolchain" --profile minimal
fi
if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]; then
  say "cargo install cargo-fuzz $CARGO_FUZZ_VERSION (a few minutes, once)"
  cargo install --quiet --root "$tools" cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --force
fi

if [ "$("$tools/node_modules/.bin/wasm-opt" --version 2>/dev/null | awk '{print $3}')" != "132" ]; then
  say "npm install binaryen@132"
  npm install --silent --no-audit --no-fund --prefix "$tools" binaryen@132.0.0 >/dev/null
fi

if [ -f "$here/package.json" ] && [ ! -d "$here/node_modules/playwright-core" ]; then
  say "npm ci (playwright-core for page tests)"
  (cd "$here" && npm ci --silent --no-audit --no-fund >/dev/null)
fi

if [ -f "$here/bench/package-lock.json" ] && [ ! -d "$here/bench/node_modules/onnxruntime-web" ]; then
  say "npm ci in bench/ (TensorFlow.js and ONNX Runtime Web, pinned, for the side-by-side benchmark)"
  (cd "$here/bench" && npm ci --silent --no-audit --no-fund >/dev/null)
fi

# The version comes from the browser binary, not Debian's /usr/bin/chromium wrapper: the wrapper's
# /etc/chromium.d/dev-shm assumes `findmnt -T /dev/shm` prints one line, and where /dev/shm is mounted twice
# (containers) it prints two and the wrapper logs "[: ...: unexpected operator".
chromium_bin=/usr/lib/chromium/chromium
[ -x "$chromium_bin" ] || chromium_bin=chromium
say "ready: wasm-bindgen $wbg, wasm-pack 0.15.1, geckodriver 0.37.1, wasm-opt $(wasm-opt --version | awk '{print $3}'), $("$chromium_bin" --version), $(firefox-esr --version)"
