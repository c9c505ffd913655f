//! Browser tests (wasm-bindgen-test): run in headless Chromium and Firefox by `make test`.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Float32Array, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use webinfer::json::{Attr, DType, Dim, Graph, ModelJson, Node, ValueInfo, FORMAT};
use webinfer::weights::{encode_weights, WeightToWrite};
use webinfer::Tensor;

wasm_bindgen_test_configure!(run_in_browser);

/// y = relu(x · W + b) with x: [batch, 3], W: [3, 2].
fn tiny_dense() -> (String, Vec<Vec<u8>>) {
    tiny_dense_sharded(16)
}

/// As `tiny_dense`, with shards of at most `shard_size` bytes.
fn tiny_dense_sharded(shard_size: usize) -> (String, Vec<Vec<u8>>) {
    let w = Tensor::f32(vec![3, 2], vec![1.0, -1.0, 2.0, 0.5, -3.0, 1.0]);
    let b = Tensor::f32(vec![2], vec![0.5, -0.25]);
    let enc = encode_weights(
        &[
            WeightToWrite { name: "w", tensor: &w, quantize: None },
            WeightToWrite { name: "b", tensor: &b, quantize: None },
        ],
        shard_size,
        "group1",
    );
    let model = ModelJson {
        format: FORMAT.into(),
        generated_by: None,
        converted_by: None,
        graph: Graph {
            inputs: vec![ValueInfo {
                name: "x".into(),
                dtype: DType::Float32,
                shape: vec![Dim::Symbol("batch".into()), Dim::Fixed(3)],
            }],
            outputs: vec![ValueInfo {
                name: "y".into(),
                dtype: DType::Float32,
                shape: vec![Dim::Symbol("batch".into()), Dim::Fixed(2)],
            }],
            nodes: vec![Node {
                name: "dense".into(),
                op: "Gemm".into(),
                inputs: vec!["x".into(), "w".into(), "b".into()],
                outputs: vec!["y".into()],
                attrs: [("activation".to_string(), Attr::String("Relu".into()))].into_iter().collect(),
            }],
        },
        weights_manifest: vec![enc.group],
    };
    (model.to_json(), enc.shards)
}

/// Builds a model from bytes with `backend` ("auto", "cpu" or "webgpu").
async fn from_bytes(json: &str, shards: &[&[u8]], backend: &str) -> Result<webinfer::js::Model, JsValue> {
    from_bytes_with(json, shards, &[("backend", backend.into())]).await
}

/// Builds a model from bytes with these LoadOptions.
async fn from_bytes_with(
    json: &str,
    shards: &[&[u8]],
    options: &[(&str, JsValue)],
) -> Result<webinfer::js::Model, JsValue> {
    let shards: Array = shards.iter().map(|s| JsValue::from(Uint8Array::from(*s))).collect();
    let object = Object::new();
    for (key, value) in options {
        Reflect::set(&object, &JsValue::from_str(key), value).unwrap();
    }
    webinfer::js::Model::from_bytes(JsValue::from_str(json), shards, Some(object)).await
}

thread_local! {
    static HAS_WEBGPU: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Whether this browser hands out a WebGPU adapter (headless Chromium with --enable-unsafe-webgpu has SwiftShader;
/// Firefox ESR has none). `WEBINFER_EXPECT_WEBGPU=1|0` at build time (`make test-chromium`, `make test-firefox`)
/// turns the probe into an assertion, so a lost browser flag fails the suite instead of skipping the GPU half.
async fn browser_has_webgpu() -> bool {
    if let Some(known) = HAS_WEBGPU.get() {
        return known;
    }
    let found = webinfer::gpu::Gpu::request().await.is_ok();
    match option_env!("WEBINFER_EXPECT_WEBGPU") {
        Some("1") => assert!(found, "this browser was expected to have WebGPU (is --enable-unsafe-webgpu set?)"),
        Some("0") => assert!(!found, "this browser was expected to have no WebGPU"),
        _ => {}
    }
    HAS_WEBGPU.set(Some(found));
    found
}

/// What `backend: "auto"` must pick in this browser: the CPU without WebGPU, and on a software adapter (headless
/// Chromium's SwiftShader); None where a real GPU makes it a measured race.
async fn auto_backend() -> Option<&'static str> {
    if !browser_has_webgpu().await {
        return Some("cpu");
    }
    let gpu = webinfer::gpu::Gpu::request().await.unwrap();
    gpu.software().is_some().then_some("cpu")
}

/// Checks what "auto" chose and that `backendReason` gives the rule that decided.
async fn assert_auto_choice(model: &webinfer::js::Model) {
    let reason = model.backend_reason();
    match auto_backend().await {
        Some(backend) => assert_eq!(model.backend(), backend, "{reason}"),
        None => assert!(reason.contains(" ms ") && reason.contains("best of"), "{reason}"),
    }
    if !browser_has_webgpu().await {
        assert!(reason.starts_with("auto: ") && reason.contains("no WebGPU"), "{reason}");
    } else if auto_backend().await.is_some() {
        assert!(reason.contains("software renderer") && reason.contains("so the CPU"), "{reason}");
    }
    assert_eq!(model.cpu_reason().is_some(), model.backend() == "cpu");
}

#[wasm_bindgen_test]
fn version_string_reaches_js() {
    assert_eq!(webinfer::js::version(), env!("CARGO_PKG_VERSION"));
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/pkg/probe.js")]
extern "C" {
    /// The probe the package entry (pkg/index.js) runs at init() to pick the relaxed-SIMD wasm.
    #[wasm_bindgen(js_name = relaxedSimdSupported)]
    fn relaxed_simd_supported() -> bool;
}

/// Both browsers of this suite (Chromium 156, Firefox ESR 153) run relaxed SIMD, so the package picks its relaxed
/// build in each (the fallback to the baseline is a page test, tests/page/simd-builds.test.mjs); this suite itself
/// is the baseline build.
#[wasm_bindgen_test]
fn the_relaxed_simd_probe_accepts_chromium_and_firefox() {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).unwrap();
    let agent = Reflect::get(&navigator, &"userAgent".into()).unwrap().as_string().unwrap();
    assert!(agent.contains("Chrome/") || agent.contains("Firefox/"), "{agent}");
    assert!(relaxed_simd_supported(), "{agent}");
    assert_eq!(webinfer::js::simd_build(), "simd128");
}

#[wasm_bindgen_test]
async fn js_api_runs_a_dense_layer_with_batch_two() {
    let (json, shards) = tiny_dense();
    let shards: Vec<&[u8]> = shards.iter().map(|s| &s[..]).collect();
    let mut model = from_bytes(&json, &shards, "auto").await.unwrap();
    assert_auto_choice(&model).await;
    let x = Float32Array::from(&[1.0f32, 2.0, 3.0, -1.0, 0.0, 1.0][..]);
    let promise = model.predict(x.into(), None);
    let out = wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
    let data = Float32Array::new(&Reflect::get(&out, &"data".into()).unwrap()).to_vec();
    let shape: Vec<f64> =
        Array::from(&Reflect::get(&out, &"shape".into()).unwrap()).iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(shape, vec![2.0, 2.0]);
    // row 1: [1+4-9+0.5, -1+1+3-0.25] = [-3.5, 2.75] -> relu; row 2: [-1-3+0.5, 1+1-0.25]
    assert_eq!(data, vec![0.0, 2.75, 0.0, 1.75]);
}

#[wasm_bindgen_test]
async fn corrupted_shard_is_rejected_by_name() {
    let (json, mut shards) = tiny_dense();
    shards[0][0] ^= 0xff;
    let shards: Vec<&[u8]> = shards.iter().map(|s| &s[..]).collect();
    let (name, msg) = js_name_and_message(from_bytes(&json, &shards, "auto").await.err().unwrap());
    assert!(msg.contains("sha256 mismatch") && msg.contains("group1-shard1of"), "{msg}");
    assert_eq!(name, "ShardError", "{msg}");
    let (name, msg) = js_name_and_message(from_bytes(&json, &shards[1..], "auto").await.err().unwrap());
    assert!(msg.contains("shard(s), got"), "{msg}");
    assert_eq!(name, "ShardError", "{msg}");
}

#[wasm_bindgen_test]
async fn wrong_input_length_names_expected_shape() {
    let (json, shards) = tiny_dense();
    let shards: Vec<&[u8]> = shards.iter().map(|s| &s[..]).collect();
    let mut model = from_bytes(&json, &shards, "cpu").await.unwrap();
    let err = model.predict_sync(&Float32Array::from(&[1.0f32, 2.0][..]).into(), &JsValue::UNDEFINED).err().unwrap();
    let (name, msg) = js_name_and_message(err);
    assert!(msg.contains("\"x\"") && msg.contains("batch, 3"), "{msg}");
    assert_eq!(name, "InputError", "{msg}");
    let shape: Array = [JsValue::from_f64(2.0), JsValue::from_f64(3.0)].into_iter().collect();
    let promise = model.predict(Float32Array::from(&[1.0f32, 2.0, 3.0][..]).into(), Some(shape));
    let (name, msg) = js_name_and_message(wasm_bindgen_futures::JsFuture::from(promise).await.err().unwrap());
    assert!(msg.contains("\"x\"") && msg.contains("needs 6 values, got 3"), "{msg}");
    assert_eq!(name, "InputError", "{msg}");
}

/// Payload of a little-endian .npy file (header skipped).
fn npy_data(bytes: &[u8]) -> &[u8] {
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    &bytes[10 + header_len..]
}

fn first64_digits() -> Vec<f32> {
    let raw = npy_data(include_bytes!("fixtures/mnist/heldout_x_milli.npy"));
    raw.chunks_exact(2).take(64 * 784).map(|c| (u16::from_le_bytes([c[0], c[1]]) as f64 / 1000.0) as f32).collect()
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn js_message(err: JsValue) -> String {
    js_name_and_message(err).1
}

/// A JS Error's `name` (the error kind: `ShardError`, `InputError`, …) and message.
fn js_name_and_message(err: JsValue) -> (String, String) {
    let err = err.dyn_into::<js_sys::Error>().unwrap();
    (String::from(err.name()), String::from(err.message()))
}

async fn predict_js(model: &mut webinfer::js::Model, data: &[f32], shape: &[f64]) -> (Vec<f32>, Vec<f64>) {
    let shape_js: Array = shape.iter().map(|&d| JsValue::from_f64(d)).collect();
    let promise = model.predict(Float32Array::from(data).into(), Some(shape_js));
    let out = wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
    let data = Float32Array::new(&Reflect::get(&out, &"data".into()).unwrap()).to_vec();
    let shape =
        Array::from(&Reflect::get(&out, &"shape".into()).unwrap()).iter().map(|v| v.as_f64().unwrap()).collect();
    (data, shape)
}

#[wasm_bindgen_test]
async fn mnist_models_match_onnxruntime_in_the_browser() {
    let x = first64_digits();
    let cases: [(&str, &[u8], &[u8]); 2] = [
        (
            include_str!("fixtures/mnist/converted/mlp/model.json"),
            include_bytes!("fixtures/mnist/converted/mlp/group1-shard1of1.bin"),
            include_bytes!("fixtures/mnist/mlp_ort_first64.npy"),
        ),
        (
            include_str!("fixtures/mnist/converted/cnn/model.json"),
            include_bytes!("fixtures/mnist/converted/cnn/group1-shard1of1.bin"),
            include_bytes!("fixtures/mnist/cnn_ort_first64.npy"),
        ),
    ];
    for (json, shard, reference) in cases {
        let want = f32s(npy_data(reference));
        let mut digits: Vec<Vec<f32>> = Vec::new();
        for backend in ["auto", "cpu", "webgpu"] {
            if backend == "webgpu" && !browser_has_webgpu().await {
                continue;
            }
            let mut model = from_bytes(json, &[shard], backend).await.unwrap();
            let used = model.backend();
            if backend == "auto" {
                assert_auto_choice(&model).await;
            } else {
                assert_eq!(used, backend);
                assert!(model.backend_reason().contains("requested"), "{}", model.backend_reason());
            }
            let tolerance = if used == "webgpu" { 1e-4 } else { 1e-5 };
            let (got, shape) = predict_js(&mut model, &x, &[64.0, 28.0, 28.0, 1.0]).await;
            assert_eq!(shape, vec![64.0, 10.0]);
            let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(diff <= tolerance, "{used}: max |diff| vs onnxruntime: {diff}");
            let (one, one_shape) = predict_js(&mut model, &x[..784], &[1.0, 28.0, 28.0, 1.0]).await;
            assert_eq!(one_shape, vec![1.0, 10.0]);
            assert!(
                one.iter().zip(&want[..10]).all(|(a, b)| (a - b).abs() <= tolerance),
                "{used}: batch 1 differs from batch 64"
            );
            digits.push(
                got.chunks(10)
                    .map(|r| r.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 as f32)
                    .collect(),
            );
        }
        assert!(digits.iter().all(|d| d == &digits[0]), "the backends predict different digits");
    }
}

/// The race `auto` runs against a real GPU, run here on SwiftShader through the `testing` hook that lets it count as
/// real: both backends are timed, the faster is kept, and a second load reuses the stored outcome.
#[cfg(feature = "testing")]
#[wasm_bindgen_test]
async fn auto_races_a_real_gpu_against_the_cpu_and_remembers_the_winner() {
    if !browser_has_webgpu().await {
        return;
    }
    let json = include_str!("fixtures/mnist/converted/cnn/model.json");
    let shard: &[u8] = include_bytes!("fixtures/mnist/converted/cnn/group1-shard1of1.bin");
    let global = js_sys::global();
    let storage = Reflect::get(&global, &"localStorage".into()).unwrap();
    Function::new_no_args("localStorage.clear()").call0(&JsValue::NULL).unwrap();
    Reflect::set(&global, &"__webinferRaceSoftwareAdapters".into(), &true.into()).unwrap();
    let first = from_bytes(json, &[shard], "auto").await.unwrap();
    let second = from_bytes(json, &[shard], "auto").await.unwrap();
    Reflect::delete_property(&global, &"__webinferRaceSoftwareAdapters".into()).unwrap();
    let why = first.backend_reason();
    assert!(why.starts_with("auto: WebGPU on google / swiftshader took ") && why.contains("best of"), "{why}");
    let cpu_won = why.contains("so the CPU, the faster");
    assert_eq!(first.backend(), if cpu_won { "cpu" } else { "webgpu" }, "{why}");
    assert_eq!(first.cpu_reason().is_some(), cpu_won);
    let length = Reflect::get(&storage, &"length".into()).unwrap().as_f64().unwrap();
    assert_eq!(length, 1.0, "the race outcome should be stored once");
    let again = second.backend_reason();
    assert!(again.ends_with("(measured at an earlier load on this device)"), "{again}");
    assert_eq!(second.backend(), first.backend(), "{again}");
    Function::new_no_args("localStorage.clear()").call0(&JsValue::NULL).unwrap();
}

#[wasm_bindgen_test]
async fn webgpu_is_used_where_the_browser_has_it_and_a_clear_error_where_not() {
    let json = include_str!("fixtures/mnist/converted/mlp/model.json");
    let shard: &[u8] = include_bytes!("fixtures/mnist/converted/mlp/group1-shard1of1.bin");
    match from_bytes(json, &[shard], "webgpu").await {
        Ok(mut model) => {
            assert!(browser_has_webgpu().await, "webgpu worked in a browser without it");
            assert_eq!(model.backend(), "webgpu");
            assert!(model.adapter().is_some());
            assert_eq!(model.cpu_reason(), None);
            let err =
                model.predict_sync(&Float32Array::new_with_length(784).into(), &JsValue::UNDEFINED).err().unwrap();
            let (name, msg) = js_name_and_message(err);
            assert!(msg.contains("predictSync runs on the CPU backend"), "{msg}");
            assert_eq!(name, "UnsupportedError", "{msg}");
        }
        Err(e) => {
            let (name, msg) = js_name_and_message(e);
            assert!(!browser_has_webgpu().await, "webgpu failed in Chromium: {msg}");
            assert!(msg.contains("backend \"webgpu\"") && msg.contains("no WebGPU adapter"), "{msg}");
            assert_eq!(name, "GpuError", "{msg}");
            let model = from_bytes(json, &[shard], "auto").await.unwrap();
            assert_eq!(model.backend(), "cpu");
            assert_auto_choice(&model).await;
        }
    }
}

#[wasm_bindgen_test]
async fn every_kernel_compiles_with_the_browsers_shader_compiler() {
    if !browser_has_webgpu().await {
        return;
    }
    let gpu = webinfer::gpu::Gpu::request().await.unwrap();
    let compiled = gpu.compile_all_shaders().await.unwrap();
    assert!(compiled >= 17, "{compiled}");
}

/// Needs the `simulateDeviceLoss` test hook: `make test-chromium` / `make test-firefox` build with `--features testing`.
#[cfg(feature = "testing")]
#[wasm_bindgen_test]
async fn a_lost_gpu_device_switches_the_model_to_the_cpu() {
    let json = include_str!("fixtures/mnist/converted/cnn/model.json");
    let shard: &[u8] = include_bytes!("fixtures/mnist/converted/cnn/group1-shard1of1.bin");
    let want = f32s(npy_data(include_bytes!("fixtures/mnist/cnn_ort_first64.npy")));
    let x = first64_digits();
    let shards: Array = [JsValue::from(Uint8Array::from(shard))].into_iter().collect();
    let reports = Array::new();
    let record =
        Function::new_with_args("seen", "return (m) => seen.push(m);").call1(&JsValue::NULL, &reports).unwrap();
    let options = Object::new();
    Reflect::set(&options, &"onDeviceLost".into(), &record).unwrap();
    let gpu = browser_has_webgpu().await;
    Reflect::set(&options, &"backend".into(), &if gpu { "webgpu" } else { "auto" }.into()).unwrap();
    let mut model = webinfer::js::Model::from_bytes(JsValue::from_str(json), shards, Some(options)).await.unwrap();
    assert_eq!(model.backend(), if gpu { "webgpu" } else { "cpu" });
    model.simulate_device_loss();
    let (got, _) = predict_js(&mut model, &x[..784 * 4], &[4.0, 28.0, 28.0, 1.0]).await;
    assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() <= 1e-5), "predictions after the loss are wrong");
    assert_eq!(model.backend(), "cpu");
    if browser_has_webgpu().await {
        assert_eq!(reports.length(), 1, "onDeviceLost was not called once");
        assert!(model.cpu_reason().unwrap().contains("lost"), "{:?}", model.cpu_reason());
        assert!(model.backend_reason().starts_with("left WebGPU"), "{}", model.backend_reason());
    } else {
        assert_eq!(reports.length(), 0);
    }
}

/// Serves `files` (absolute URL → bytes) through a `fetch` stand-in returning real streamed Responses
/// (404 for anything else) and returns a guard that restores the real fetch.
struct FakeFetch(JsValue);

impl FakeFetch {
    fn install(files: &[(String, Vec<u8>)]) -> Self {
        Self::install_with_stalls(files, &[])
    }

    /// As `install`, with requests for `stalled` URLs never answered: they settle only when their `signal` aborts,
    /// rejecting with its reason as fetch does.
    fn install_with_stalls(files: &[(String, Vec<u8>)], stalled: &[String]) -> Self {
        let map = js_sys::Map::new();
        for (url, bytes) in files {
            map.set(&JsValue::from_str(url), &Uint8Array::from(&bytes[..]));
        }
        for url in stalled {
            map.set(&JsValue::from_str(url), &JsValue::from_str("stall"));
        }
        let make = Function::new_with_args(
            "files",
            "return (url, init) => { const b = files.get(String(url)); \
             if (b === 'stall') return new Promise((_, reject) => { const s = init && init.signal; \
               if (s) s.addEventListener('abort', () => reject(s.reason)); }); \
             return Promise.resolve(b ? new Response(new Blob([b])) : new Response('missing', { status: 404, statusText: 'Not Found' })); };",
        );
        let fake = make.call1(&JsValue::NULL, &map).unwrap();
        let global = js_sys::global();
        let real = Reflect::get(&global, &"fetch".into()).unwrap();
        Reflect::set(&global, &"fetch".into(), &fake).unwrap();
        FakeFetch(real)
    }
}

impl Drop for FakeFetch {
    fn drop(&mut self) {
        Reflect::set(&js_sys::global(), &"fetch".into(), &self.0).unwrap();
    }
}

fn sharded_dense(shard_size: usize) -> (String, Vec<(String, Vec<u8>)>) {
    let (json, shards) = tiny_dense_sharded(shard_size);
    let paths = ModelJson::parse(&json).unwrap().weights_manifest[0].paths.clone();
    let files = paths.iter().zip(shards).map(|(p, s)| (format!("https://models.example/dense/{p}"), s)).collect();
    (json, files)
}

/// A shard that never answers: `timeoutMs` rejects the load with a TimeoutError naming the shard's file and URL,
/// the caller's AbortSignal with an AbortError, and an already aborted signal before anything is fetched; each
/// promptly, and a good load works afterwards.
#[wasm_bindgen_test]
async fn a_stalled_shard_times_out_and_an_abort_signal_cancels_the_load() {
    let (json, files) = sharded_dense(1 << 20);
    let shard_url = files[0].0.clone();
    let model_url = "https://models.example/dense/model.json".to_string();
    let served = vec![(model_url.clone(), json.clone().into_bytes())];
    let fetch = FakeFetch::install_with_stalls(&served, std::slice::from_ref(&shard_url));
    let load_with = |options: Object| webinfer::js::Model::load(model_url.clone(), Some(options));

    let options = Object::new();
    Reflect::set(&options, &"timeoutMs".into(), &150.into()).unwrap();
    let start = js_sys::Date::now();
    let (name, msg) = js_name_and_message(load_with(options).await.err().unwrap());
    let waited = js_sys::Date::now() - start;
    assert_eq!(name, "TimeoutError", "{msg}");
    assert!(msg.contains(&format!("shard \"group1-shard1of1.bin\": fetch {shard_url}")), "{msg}");
    assert!(msg.contains("150 ms (timeoutMs)"), "{msg}");
    assert!((100.0..2000.0).contains(&waited), "rejected after {waited} ms");

    let controller =
        Reflect::construct(&Reflect::get(&js_sys::global(), &"AbortController".into()).unwrap().into(), &Array::new())
            .unwrap();
    let abort_later = Function::new_with_args("c", "setTimeout(() => c.abort(), 100);");
    abort_later.call1(&JsValue::NULL, &controller).unwrap();
    let options = Object::new();
    Reflect::set(&options, &"signal".into(), &Reflect::get(&controller, &"signal".into()).unwrap()).unwrap();
    let start = js_sys::Date::now();
    let (name, msg) = js_name_and_message(load_with(options).await.err().unwrap());
    let waited = js_sys::Date::now() - start;
    assert_eq!(name, "AbortError", "{msg}");
    assert!(msg.contains(&format!("fetch {shard_url} was aborted")), "{msg}");
    assert!(waited < 2000.0, "rejected after {waited} ms");

    let aborted = Function::new_no_args("return AbortSignal.abort('changed my mind');").call0(&JsValue::NULL).unwrap();
    let options = Object::new();
    Reflect::set(&options, &"signal".into(), &aborted).unwrap();
    let (name, msg) = js_name_and_message(load_with(options).await.err().unwrap());
    assert_eq!(name, "AbortError", "{msg}");
    assert_eq!(msg, format!("loading {model_url} was aborted: changed my mind"));
    drop(fetch);

    let mut good = served;
    good.extend(files);
    let _fetch = FakeFetch::install(&good);
    let mut model = load_with(Object::new()).await.unwrap();
    let (got, _) = predict_js(&mut model, &[1.0, 2.0, 3.0], &[1.0, 3.0]).await;
    assert_eq!(got.len(), 2);
}

async fn load(url: &str, progress: Option<&Function>) -> Result<webinfer::js::Model, JsValue> {
    let options = Object::new();
    if let Some(f) = progress {
        Reflect::set(&options, &"onProgress".into(), f).unwrap();
    }
    webinfer::js::Model::load(url.to_string(), Some(options)).await
}

#[wasm_bindgen_test]
async fn load_fetches_every_shard_reports_progress_and_predicts() {
    let (json, mut files) = sharded_dense(8);
    assert!(files.len() >= 4, "want several shards");
    files.push(("https://models.example/dense/model.json".into(), json.into_bytes()));
    let _fetch = FakeFetch::install(&files);
    let seen = Array::new();
    let record = Function::new_with_args("seen", "return (f) => seen.push(f);").call1(&JsValue::NULL, &seen).unwrap();
    let mut model = load("https://models.example/dense/model.json", Some(record.unchecked_ref())).await.unwrap();
    let fractions: Vec<f64> = seen.iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(fractions.len() >= 4, "progress reported {} times", fractions.len());
    assert!(fractions.windows(2).all(|w| w[0] <= w[1]), "progress went backwards: {fractions:?}");
    assert_eq!(*fractions.last().unwrap(), 1.0);
    let (y, _) = predict_js(&mut model, &[1.0, 2.0, 3.0], &[1.0, 3.0]).await;
    assert_eq!(y, vec![0.0, 2.75]);
}

#[wasm_bindgen_test]
async fn load_reports_404_and_corrupted_shards_by_url() {
    let (json, files) = sharded_dense(8);
    let model_url = "https://models.example/dense/model.json".to_string();
    let mut missing = files.clone();
    let gone = missing.remove(1).0;
    missing.push((model_url.clone(), json.clone().into_bytes()));
    {
        let _fetch = FakeFetch::install(&missing);
        let (name, msg) = js_name_and_message(load(&model_url, None).await.err().unwrap());
        let file = gone.rsplit('/').next().unwrap();
        assert!(msg.contains("HTTP 404") && msg.contains(&gone) && msg.contains(&format!("shard {file:?}")), "{msg}");
        assert_eq!(name, "ShardError", "{msg}");
    }
    {
        let _fetch = FakeFetch::install(&files);
        let (name, msg) = js_name_and_message(load(&model_url, None).await.err().unwrap());
        assert!(msg.contains("HTTP 404") && msg.contains(&model_url), "{msg}");
        assert_eq!(name, "IoError", "{msg}");
    }
    let mut corrupt = files.clone();
    corrupt[2].1[0] ^= 0x40;
    let bad = corrupt[2].0.clone();
    corrupt.push((model_url.clone(), json.clone().into_bytes()));
    {
        let _fetch = FakeFetch::install(&corrupt);
        let (name, msg) = js_name_and_message(load(&model_url, None).await.err().unwrap());
        let file = bad.rsplit('/').next().unwrap();
        assert!(msg.contains("sha256 mismatch") && msg.contains(&format!("shard {file:?} ({bad})")), "{msg}");
        assert_eq!(name, "ShardError", "{msg}");
    }
    let mut short = files.clone();
    let full = short[1].1.len();
    short[1].1.truncate(3);
    let cut = short[1].0.clone();
    short.push((model_url.clone(), json.clone().into_bytes()));
    {
        let _fetch = FakeFetch::install(&short);
        let (name, msg) = js_name_and_message(load(&model_url, None).await.err().unwrap());
        let file = cut.rsplit('/').next().unwrap();
        assert!(msg.contains(&format!("shard {file:?} ({cut}): expected {full} bytes, got 3")), "{msg}");
        assert_eq!(name, "ShardError", "{msg}");
    }
    {
        let _fetch = FakeFetch::install(&[(model_url.clone(), br#"{"format":"webinfer-graph/9"}"#.to_vec())]);
        let (name, msg) = js_name_and_message(load(&model_url, None).await.err().unwrap());
        assert!(msg.contains("unsupported format version") && msg.contains("webinfer-graph/9"), "{msg}");
        assert_eq!(name, "FormatError", "{msg}");
    }
}

/// TF.js manifests record no shard lengths: a truncated shard is found from what the weights need, and named.
#[wasm_bindgen_test]
async fn a_truncated_tfjs_shard_is_named_with_its_url_and_byte_counts() {
    let base = "https://models.example/tfjs";
    let json = include_str!("fixtures/interop/seq_cnn/tfjs_graph_float16/model.json");
    let shards: [&[u8]; 4] = [
        include_bytes!("fixtures/interop/seq_cnn/tfjs_graph_float16/group1-shard1of4.bin"),
        include_bytes!("fixtures/interop/seq_cnn/tfjs_graph_float16/group1-shard2of4.bin"),
        include_bytes!("fixtures/interop/seq_cnn/tfjs_graph_float16/group1-shard3of4.bin"),
        include_bytes!("fixtures/interop/seq_cnn/tfjs_graph_float16/group1-shard4of4.bin"),
    ];
    let files = |cut: usize, keep: usize| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = shards
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (format!("{base}/group1-shard{}of4.bin", i + 1), s[..if i == cut { keep } else { s.len() }].to_vec())
            })
            .collect();
        files.push((format!("{base}/model.json"), json.as_bytes().to_vec()));
        files
    };
    let model_url = format!("{base}/model.json");
    {
        let _fetch = FakeFetch::install(&files(9, 0));
        load(&model_url, None).await.unwrap();
    }
    for (cut, keep) in [(3, 10), (1, 100)] {
        let _fetch = FakeFetch::install(&files(cut, keep));
        let (name, msg) = js_name_and_message(load(&model_url, None).await.err().unwrap());
        let file = format!("group1-shard{}of4.bin", cut + 1);
        let expected = if cut == 3 { shards[3].len() } else { shards[0].len() };
        assert!(msg.contains(&format!("shard {file:?} ({base}/{file}) is truncated")), "{msg}");
        assert!(msg.contains(&format!("expected {expected} bytes, got {keep}")), "{msg}");
        assert_eq!(name, "ShardError", "{msg}");
    }
}

#[wasm_bindgen_test]
async fn memory_stays_flat_over_10000_predictions() {
    let json = include_str!("fixtures/mnist/converted/mlp/model.json");
    let mut model =
        from_bytes(json, &[include_bytes!("fixtures/mnist/converted/mlp/group1-shard1of1.bin")], "cpu").await.unwrap();
    let x = first64_digits();
    let input: JsValue = Float32Array::from(&x[..784]).into();
    let shape: JsValue = [1.0, 28.0, 28.0, 1.0].iter().map(|&d| JsValue::from_f64(d)).collect::<Array>().into();
    let memory_bytes = || {
        Reflect::get(&wasm_bindgen::memory(), &"buffer".into())
            .and_then(|b| Reflect::get(&b, &"byteLength".into()))
            .unwrap()
            .as_f64()
            .unwrap()
    };
    for _ in 0..100 {
        model.predict_sync(&input, &shape).unwrap();
    }
    let warm = memory_bytes();
    for _ in 0..10_000 {
        model.predict_sync(&input, &shape).unwrap();
    }
    assert_eq!(memory_bytes(), warm, "wasm memory grew over 10,000 predictions");
    drop(model);
}

/// Two inputs, two outputs: sum = a + b (b broadcast over rows), scaled = a * 2.
fn two_in_two_out() -> (String, Vec<Vec<u8>>) {
    let two = Tensor::f32(vec![], vec![2.0]);
    let enc = encode_weights(&[WeightToWrite { name: "two", tensor: &two, quantize: None }], 64, "group1");
    let info = |name: &str, shape: Vec<Dim>| ValueInfo { name: name.into(), dtype: DType::Float32, shape };
    let node = |name: &str, op: &str, inputs: [&str; 2], out: &str| Node {
        name: name.into(),
        op: op.into(),
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: vec![out.into()],
        attrs: Default::default(),
    };
    let model = ModelJson {
        format: FORMAT.into(),
        generated_by: None,
        converted_by: None,
        graph: Graph {
            inputs: vec![info("a", vec![Dim::Symbol("n".into()), Dim::Fixed(2)]), info("b", vec![Dim::Fixed(2)])],
            outputs: vec![
                info("sum", vec![Dim::Symbol("n".into()), Dim::Fixed(2)]),
                info("scaled", vec![Dim::Symbol("n".into()), Dim::Fixed(2)]),
            ],
            nodes: vec![node("add", "Add", ["a", "b"], "sum"), node("mul", "Mul", ["a", "two"], "scaled")],
        },
        weights_manifest: vec![enc.group],
    };
    (model.to_json(), enc.shards)
}

#[wasm_bindgen_test]
async fn named_inputs_and_outputs_round_trip_through_js() {
    let (json, shards) = two_in_two_out();
    let shards: Vec<&[u8]> = shards.iter().map(|s| &s[..]).collect();
    let mut model = from_bytes(&json, &shards, "cpu").await.unwrap();
    assert_eq!(model.inputs().length(), 2);
    assert_eq!(Reflect::get(&model.outputs().get(1), &"name".into()).unwrap(), "scaled");
    let a = model.inputs().get(0);
    assert_eq!(Reflect::get(&a, &"name".into()).unwrap(), "a");
    assert_eq!(Reflect::get(&a, &"dtype".into()).unwrap(), "float32");
    let a_shape = Array::from(&Reflect::get(&a, &"shape".into()).unwrap());
    assert_eq!((a_shape.get(0), a_shape.get(1)), (JsValue::from_str("n"), JsValue::from_f64(2.0)));
    assert_eq!(a_shape.length(), 2);
    let tensor = |data: &[f32], shape: &[f64]| {
        let o = Object::new();
        Reflect::set(&o, &"data".into(), &Float32Array::from(data)).unwrap();
        Reflect::set(&o, &"shape".into(), &shape.iter().map(|&d| JsValue::from_f64(d)).collect::<Array>()).unwrap();
        JsValue::from(o)
    };
    let feeds = Object::new();
    Reflect::set(&feeds, &"a".into(), &tensor(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3.0, 2.0])).unwrap();
    Reflect::set(&feeds, &"b".into(), &tensor(&[10.0, 20.0], &[2.0])).unwrap();
    let out = wasm_bindgen_futures::JsFuture::from(model.predict(feeds.clone().into(), None)).await.unwrap();
    let get = |name: &str| {
        Float32Array::new(&Reflect::get(&Reflect::get(&out, &name.into()).unwrap(), &"data".into()).unwrap()).to_vec()
    };
    assert_eq!(get("sum"), vec![11.0, 22.0, 13.0, 24.0, 15.0, 26.0]);
    assert_eq!(get("scaled"), vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
    Reflect::set(&feeds, &"c".into(), &tensor(&[1.0], &[1.0])).unwrap();
    let err = wasm_bindgen_futures::JsFuture::from(model.predict(feeds.clone().into(), None)).await.err().unwrap();
    let (name, msg) = js_name_and_message(err);
    assert!(msg.contains("unknown input name \"c\"") && msg.contains("\"a\", \"b\""), "{msg}");
    assert_eq!(name, "InputError", "{msg}");
    Reflect::delete_property(&feeds, &"c".into()).unwrap();
    Reflect::delete_property(&feeds, &"b".into()).unwrap();
    let (name, msg) = js_name_and_message(model.predict_sync(&feeds.into(), &JsValue::UNDEFINED).err().unwrap());
    assert!(msg.contains("missing input \"b\""), "{msg}");
    assert_eq!(name, "InputError", "{msg}");
    let (name, msg) = js_name_and_message(
        model.predict_sync(&Float32Array::from(&[1.0f32, 2.0][..]).into(), &JsValue::UNDEFINED).err().unwrap(),
    );
    assert!(msg.contains("2 inputs"), "{msg}");
    assert_eq!(name, "InputError", "{msg}");
}

/// The `data` array of a tfjs_output.json reference.
fn reference(json: &str) -> Vec<f32> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

macro_rules! fixture_files {
    ($dir:literal, $base:literal, [$($shard:literal),*]) => {
        vec![
            (concat!($base, "model.json").to_string(), include_bytes!(concat!("fixtures/interop/", $dir, "/model.json")).to_vec()),
            $((concat!($base, $shard).to_string(), include_bytes!(concat!("fixtures/interop/", $dir, "/", $shard)).to_vec()),)*
        ]
    };
}

#[wasm_bindgen_test]
async fn tfjs_graph_and_keras3_layers_models_load_and_match_tfjs() {
    let x = f32s(npy_data(include_bytes!("fixtures/interop/seq_cnn/input0.npy")));
    let graph = fixture_files!(
        "seq_cnn/tfjs_graph_none",
        "https://models.example/graph/",
        [
            "group1-shard1of7.bin",
            "group1-shard2of7.bin",
            "group1-shard3of7.bin",
            "group1-shard4of7.bin",
            "group1-shard5of7.bin",
            "group1-shard6of7.bin",
            "group1-shard7of7.bin"
        ]
    );
    let layers = fixture_files!(
        "seq_cnn/tfjs_layers3_uint8",
        "https://models.example/layers/",
        [
            "group1-shard1of1.bin",
            "group2-shard1of1.bin",
            "group3-shard1of2.bin",
            "group3-shard2of2.bin",
            "group4-shard1of1.bin",
            "group5-shard1of1.bin"
        ]
    );
    let cases = [
        (
            graph,
            "https://models.example/graph/model.json",
            reference(include_str!("fixtures/interop/seq_cnn/tfjs_graph_none/tfjs_output.json")),
        ),
        (
            layers,
            "https://models.example/layers/model.json",
            reference(include_str!("fixtures/interop/seq_cnn/tfjs_layers_uint8/tfjs_output.json")),
        ),
    ];
    for (files, url, want) in cases {
        let _fetch = FakeFetch::install(&files);
        let mut model = load(url, None).await.unwrap_or_else(|e| panic!("{url}: {}", js_message(e)));
        let (y, shape) = predict_js(&mut model, &x, &[2.0, 12.0, 12.0, 3.0]).await;
        assert_eq!(shape, vec![2.0, 5.0]);
        let d = y.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(d <= 1e-5, "{url} on {}: max |ours - TF.js| = {d:e}", model.backend());
    }
}

#[wasm_bindgen_test]
async fn bad_options_reject_with_an_input_error() {
    let (json, shards) = tiny_dense();
    let shards: Vec<&[u8]> = shards.iter().map(|s| &s[..]).collect();
    let (name, msg) = js_name_and_message(from_bytes(&json, &shards, "gpu").await.err().unwrap());
    assert!(msg.contains("unknown backend \"gpu\"") && msg.contains("\"auto\", \"cpu\" or \"webgpu\""), "{msg}");
    assert_eq!(name, "InputError", "{msg}");
    let err = from_bytes_with(&json, &shards, &[("warmUp", "no".into())]).await.err().unwrap();
    let (name, msg) = js_name_and_message(err);
    assert!(msg.contains("LoadOptions") && msg.contains("boolean"), "{msg}");
    assert_eq!(name, "InputError", "{msg}");
    // Model.load checks its options before it fetches anything.
    let options = Object::new();
    Reflect::set(&options, &"backend".into(), &"tpu".into()).unwrap();
    let err = webinfer::js::Model::load("https://models.example/none/model.json".into(), Some(options)).await;
    let (name, msg) = js_name_and_message(err.err().unwrap());
    assert!(msg.contains("unknown backend \"tpu\""), "{msg}");
    assert_eq!(name, "InputError", "{msg}");
    // A callback that is not a function is ignored, as before.
    let model = from_bytes_with(&json, &shards, &[("backend", "cpu".into()), ("onDeviceLost", 3.into())]).await;
    assert_eq!(model.unwrap().backend(), "cpu");
}

#[wasm_bindgen_test]
async fn declared_sizes_over_the_limits_reject_before_anything_is_allocated() {
    let (json, shards) = tiny_dense();
    let shards: Vec<&[u8]> = shards.iter().map(|s| &s[..]).collect();
    let mut doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    doc["weightsManifest"][0]["weights"][0]["shape"] = serde_json::json!([1u64 << 40]);
    let huge = doc.to_string();
    let before = wasm_bindgen::memory().unchecked_into::<js_sys::WebAssembly::Memory>().buffer();
    let before = before.unchecked_into::<js_sys::ArrayBuffer>().byte_length();
    let (name, msg) = js_name_and_message(from_bytes(&huge, &shards, "cpu").await.err().unwrap());
    assert_eq!(name, "FormatError", "{msg}");
    assert!(msg.contains("declares shape [1099511627776]") && msg.contains("limits.maxWeightBytes"), "{msg}");
    let after = wasm_bindgen::memory().unchecked_into::<js_sys::WebAssembly::Memory>().buffer();
    assert!(after.unchecked_into::<js_sys::ArrayBuffer>().byte_length() < before + (64 << 20));
    // The limits are an option: a bound below the tiny model's weights rejects it, raised ones accept it.
    let limits = Object::new();
    Reflect::set(&limits, &"maxModelBytes".into(), &4.into()).unwrap();
    let (name, msg) =
        js_name_and_message(from_bytes_with(&json, &shards, &[("limits", limits.into())]).await.err().unwrap());
    assert!(name == "FormatError" && msg.contains("limits.maxModelBytes"), "{name}: {msg}");
    let limits = Object::new();
    Reflect::set(&limits, &"maxWeightBytes".into(), &"lots".into()).unwrap();
    let (name, msg) =
        js_name_and_message(from_bytes_with(&json, &shards, &[("limits", limits.into())]).await.err().unwrap());
    assert!(name == "InputError" && msg.contains("LoadOptions"), "{name}: {msg}");
}

#[wasm_bindgen_test]
async fn an_op_without_a_kernel_rejects_with_an_unsupported_op_error() {
    let info = |name: &str| ValueInfo { name: name.into(), dtype: DType::Float32, shape: vec![Dim::Fixed(2)] };
    let model = ModelJson {
        format: FORMAT.into(),
        generated_by: None,
        converted_by: None,
        graph: Graph {
            inputs: vec![info("x")],
            outputs: vec![info("y")],
            nodes: vec![Node {
                name: "mystery".into(),
                op: "NoSuchOp".into(),
                inputs: vec!["x".into()],
                outputs: vec!["y".into()],
                attrs: Default::default(),
            }],
        },
        weights_manifest: vec![],
    };
    let json = model.to_json();
    let check = |err: JsValue| {
        let (name, msg) = js_name_and_message(err);
        assert!(
            msg.contains("op \"NoSuchOp\" (node \"mystery\") is not supported") && msg.contains("supported ops: "),
            "{msg}"
        );
        assert_eq!(name, "UnsupportedOpError", "{msg}");
    };
    for backend in ["cpu", "auto"] {
        check(from_bytes(&json, &[], backend).await.err().unwrap());
    }
    // Without the warm-up, loading succeeds and the first prediction rejects.
    let mut model = from_bytes_with(&json, &[], &[("backend", "cpu".into()), ("warmUp", false.into())]).await.unwrap();
    let promise = model.predict(Float32Array::from(&[1.0f32, 2.0][..]).into(), None);
    check(wasm_bindgen_futures::JsFuture::from(promise).await.err().unwrap());
}
