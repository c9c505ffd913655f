# webinfer: `make demo` builds everything and serves the digit demo; `make test` runs every test.
SHELL := /bin/bash
TOOLS ?= $(HOME)/.local/share/webinfer-tools
export PATH := $(TOOLS)/bin:$(TOOLS)/node_modules/.bin:$(PATH)
PORT ?= 8080
# No display here: keep Mesa's Vulkan device-select layer from probing for one (see quiet_device_select_without_a_display).
export NODEVICE_SELECT ?= 1
ONNX_VENV ?= $(CURDIR)/.venv-onnx
TF_VENV ?= $(CURDIR)/.venv-tf
# The browser suites build with the test hooks (`testing`: simulateDeviceLoss, benchMatmul); the shipped package never does.
BROWSER_TEST = WASM_BINDGEN_TEST_TIMEOUT=180 cargo test --release --target wasm32-unknown-unknown -p webinfer --features testing --test web

.PHONY: all bootstrap build pkg check-types examples fuzz-smoke bench-pkg test-root-commands test-doc-commands www-pkg demo-model demo test test-native test-chromium test-firefox test-page test-bench-smoke lint bench bench-models bench-cpu bench-convert bundle-size interop-fixtures clean

all: build

bootstrap:
	@./tools/bootstrap.sh

build: bootstrap
	cargo build --release -p webinfer-converter
	cargo build --release --target wasm32-unknown-unknown --lib

# The package: the baseline simd128 wasm (what a bare `wasm-pack build` makes), the relaxed-SIMD wasm beside it,
# and index.js, whose init() picks one (tools/build-pkg.sh).
pkg: bootstrap
	./tools/build-pkg.sh pkg

# The benchmark pages' package (bench/pkg-testing): the shipped one plus the `testing` hooks (benchMatmul).
bench-pkg: bootstrap
	./tools/build-pkg.sh bench/pkg-testing --features testing

demo-model: bootstrap
	@./tools/demo-model.sh

www-pkg: pkg
	rm -rf www/pkg && mkdir -p www/pkg && cp pkg/index.js pkg/store.js pkg/webinfer.js pkg/webinfer_bg.wasm pkg/webinfer_relaxed_bg.wasm www/pkg/

demo: www-pkg demo-model
	python3 tools/serve.py --dir www --port $(PORT)

test: bootstrap test-root-commands test-native fuzz-smoke test-chromium test-firefox test-page check-types test-bench-smoke test-doc-commands lint
	@echo "make test: all suites passed"

# What a new user types at the root, bare: a workspace member that cannot build for wasm32 must never break these.
test-root-commands: bootstrap
	wasm-pack build
	wasm-pack build --release --target web
	wasm-pack test --headless --chrome
	$(MAKE) build

# Every shell command in README.md and docs/API.md, run as written (tools/check_doc_commands.py).
test-doc-commands: bootstrap
	python3 tools/check_doc_commands.py

test-native:
	WEBINFER_EXPECT_WEBGPU=1 cargo test --workspace

# Every cargo-fuzz target (fuzz/) for 20 s, seeded from the committed fixtures: a crash fails it (tools/fuzz.sh).
fuzz-smoke: bootstrap
	./tools/fuzz.sh smoke 20

test-chromium:
	WEBINFER_EXPECT_WEBGPU=1 CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_WEBDRIVER_JSON=$(CURDIR)/tools/webdriver.json $(BROWSER_TEST)

test-firefox:
	WEBINFER_EXPECT_WEBGPU=0 GECKODRIVER=$(TOOLS)/bin/geckodriver $(BROWSER_TEST)

# examples/vite and examples/webpack, built with their real tools against `npm pack` of pkg/ (tools/examples.sh).
examples: pkg
	./tools/examples.sh

test-page: www-pkg demo-model examples
	npm test

# pkg/*.d.ts: no `any` in a public signature, and examples/typescript/whole-api.ts (every API) compiles with tsc --strict.
check-types: pkg
	node tools/check-types.mjs

test-bench-smoke: pkg bench-pkg
	node bench/run.mjs --smoke

# Side by side with TensorFlow.js and ONNX Runtime Web (bench/results.json, bench/results.md). MobileNetV2's
# ONNX and TF.js graph are committed (made once by tools/make_bench_models.py with TensorFlow, TF_VENV:
# tools/requirements-train.txt + tensorflowjs==4.22.0, then ydf==0.15.0); only webinfer's conversion is made here.
bench: pkg bench-pkg bench-models
	node bench/run.mjs

bench-models: bootstrap
	test -f bench/models/mobilenetv2/model.onnx || $(TF_VENV)/bin/python tools/make_bench_models.py --only mobilenetv2
	cargo run --release -p webinfer-converter -- convert bench/models/mobilenetv2/model.onnx bench/models/mobilenetv2/webinfer

# Regenerates tests/fixtures/interop (Keras/SavedModel/TF.js models and their Keras and TF.js outputs).
interop-fixtures:
	$(TF_VENV)/bin/python tools/make_interop_fixtures.py

# Gzipped bundle sizes: the default build and one without the TF.js translators (BENCHMARKS.md records them).
bundle-size: bootstrap
	./tools/bundle-size.sh

bench-cpu: bench-pkg
	node bench/cpu.mjs

bench-convert:
	ONNX_VENV=$(ONNX_VENV) ./tools/bench-convert.sh

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target wasm32-unknown-unknown -p webinfer --lib --tests -- -D warnings
	cargo clippy --target wasm32-unknown-unknown -p webinfer --lib --tests --features testing -- -D warnings
	# The feature-reduced builds the layout promises: no TF.js translators, no libhdf5, no WebGPU in the engine.
	cargo clippy --target wasm32-unknown-unknown -p webinfer --lib --no-default-features --features webgpu -- -D warnings
	cargo clippy -p webinfer-converter --no-default-features -- -D warnings
	cargo clippy -p webinfer-engine --no-default-features -- -D warnings

clean:
	cargo clean
	rm -rf pkg bench/pkg-testing www/pkg www/models examples/*/dist examples/*/node_modules
