//! The JavaScript API: `Model.load(url, options)`, `Model.fromBytes(json, shards)`, `model.predict(...)`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Float32Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::gpu::{Gpu, GpuModel};
use crate::json::{Dim, ValueInfo};
use crate::tensor::Tensor;
use crate::Error;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** A tensor crossing the JS boundary. */
export interface TensorData { data: Float32Array; shape: number[]; }
/** A graph input or output. */
export interface TensorInfo { name: string; dtype: string; shape: (number | string)[]; }
/** Options of Model.load. */
export interface LoadOptions {
  backend?: "auto" | "cpu" | "webgpu";
  onProgress?: (fraction: number) => void;
  /** Passed to fetch() for model.json and every shard (headers, credentials, cache, ...). */
  fetch?: RequestInit;
  /** Plan and run once at batch 1 while loading, so the first predict does no graph work (default true). */
  warmUp?: boolean;
  /** Called when the GPU device is lost while the model is in use; the model has switched to the CPU. */
  onDeviceLost?: (message: string) => void;
}
"#;

fn js_err(e: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&e.to_string()).into()
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// The webinfer version.
#[wasm_bindgen]
pub fn version() -> String {
    crate::version().to_string()
}

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// A loaded model.
#[wasm_bindgen]
pub struct Model {
    shared: Rc<Shared>,
    size_bytes: f64,
}

/// What a model and its in-flight predictions share.
struct Shared {
    cpu: RefCell<crate::Model>,
    /// The WebGPU model while that backend is in use; None on the CPU (or after the device was lost).
    gpu: RefCell<Option<Rc<GpuModel>>>,
    /// Why "auto" runs on the CPU, or why the WebGPU backend was left.
    cpu_reason: RefCell<Option<String>>,
    on_device_lost: Option<Function>,
}

impl Shared {
    fn leave_gpu(&self, reason: &str) {
        if self.gpu.borrow_mut().take().is_some() {
            let msg = format!("webinfer: {reason}; continuing on the CPU backend");
            console_warn(&msg);
            *self.cpu_reason.borrow_mut() = Some(reason.to_string());
            if let Some(f) = &self.on_device_lost {
                let _ = f.call1(&JsValue::NULL, &JsValue::from_str(reason));
            }
        }
    }

    fn outputs_to_js(&self, outputs: &[Tensor]) -> Result<JsValue, JsValue> {
        if outputs.len() == 1 {
            return Ok(tensor_to_js(&outputs[0]));
        }
        let map = Object::new();
        for (info, t) in self.cpu.borrow().outputs().iter().zip(outputs) {
            Reflect::set(&map, &JsValue::from_str(&info.name), &tensor_to_js(t))?;
        }
        Ok(map.into())
    }
}

fn console_warn(msg: &str) {
    let console = get(&js_sys::global(), "console");
    if let Ok(warn) = get(&console, "warn").dyn_into::<Function>() {
        let _ = warn.call1(&console, &JsValue::from_str(msg));
    }
}

/// Resolves `url` against the page's (or worker's) location; unchanged where there is none.
fn absolute_url(url: &str) -> Result<String, JsValue> {
    match get(&get(&js_sys::global(), "location"), "href").as_string() {
        Some(href) => Ok(web_sys::Url::new_with_base(url, &href)?.href()),
        None => Ok(url.to_string()),
    }
}

/// Resolves a shard path against the absolute model.json URL.
fn resolve_url(path: &str, model_url: &str) -> Result<String, JsValue> {
    Ok(web_sys::Url::new_with_base(path, model_url)?.href())
}

async fn fetch(url: &str, init: &JsValue) -> Result<web_sys::Response, JsValue> {
    let fetch: Function =
        get(&js_sys::global(), "fetch").dyn_into().map_err(|_| js_err("fetch() is not available here"))?;
    let promise: Promise = fetch
        .call2(&JsValue::UNDEFINED, &JsValue::from_str(url), init)
        .map_err(|e| js_err(format!("fetch {url} failed: {}", describe(&e))))?
        .dyn_into()?;
    let response: web_sys::Response = JsFuture::from(promise)
        .await
        .map_err(|e| js_err(format!("fetch {url} failed: {}", describe(&e))))?
        .dyn_into()?;
    if !response.ok() {
        return Err(js_err(format!("HTTP {} {} for {url}", response.status(), response.status_text())));
    }
    Ok(response)
}

fn describe(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Reads a response body chunk by chunk, reporting each chunk's size.
async fn read_body(response: web_sys::Response, url: &str, on_chunk: &dyn Fn(usize)) -> Result<Vec<u8>, JsValue> {
    let Some(body) = response.body() else {
        let buf = JsFuture::from(response.array_buffer()?).await?;
        let bytes = Uint8Array::new(&buf).to_vec();
        on_chunk(bytes.len());
        return Ok(bytes);
    };
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().dyn_into()?;
    let mut bytes = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| js_err(format!("reading {url} failed: {}", describe(&e))))?;
        if get(&chunk, "done").as_bool().unwrap_or(true) {
            break;
        }
        let value = Uint8Array::new(&get(&chunk, "value"));
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        on_chunk(value.length() as usize);
    }
    Ok(bytes)
}

fn info_to_js(info: &[ValueInfo]) -> Array {
    info.iter()
        .map(|v| {
            let o = Object::new();
            let shape: Array = v
                .shape
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => JsValue::from_f64(*n as f64),
                    Dim::Symbol(s) => JsValue::from_str(s),
                })
                .collect();
            let _ = Reflect::set(&o, &"name".into(), &JsValue::from_str(&v.name));
            let _ = Reflect::set(&o, &"dtype".into(), &JsValue::from_str(v.dtype.name()));
            let _ = Reflect::set(&o, &"shape".into(), &shape);
            JsValue::from(o)
        })
        .collect()
}

fn tensor_to_js(t: &Tensor) -> JsValue {
    let o = Object::new();
    let data = Float32Array::from(&t.to_f32s()[..]);
    let shape: Array = t.shape.iter().map(|&d| JsValue::from_f64(d as f64)).collect();
    let _ = Reflect::set(&o, &"data".into(), &data);
    let _ = Reflect::set(&o, &"shape".into(), &shape);
    o.into()
}

/// Infers a shape for flat data from the declared shape (one symbolic dim is solved from the length).
fn infer_shape(info: &ValueInfo, len: usize) -> Result<Vec<usize>, Error> {
    let fixed: usize = info.shape.iter().map(|d| if let Dim::Fixed(n) = d { *n as usize } else { 1 }).product();
    let symbols = info.shape.iter().filter(|d| matches!(d, Dim::Symbol(_))).count();
    let want = || {
        info.shape
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => n.to_string(),
                Dim::Symbol(s) => s.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if fixed == 0 || len % fixed != 0 || symbols > 1 || (symbols == 0 && len != fixed) {
        return Err(Error::Input(format!(
            "input {:?}: got {len} values, which do not fit shape [{}]; pass an explicit shape",
            info.name,
            want()
        )));
    }
    Ok(info.shape.iter().map(|d| if let Dim::Fixed(n) = d { *n as usize } else { len / fixed }).collect())
}

fn tensor_from_js(info: &ValueInfo, data: &JsValue, shape: &JsValue) -> Result<Tensor, JsValue> {
    let values: Vec<f32> = if data.is_instance_of::<Float32Array>() {
        Float32Array::from(data.clone()).to_vec()
    } else if Array::is_array(data) || get(data, "length").as_f64().is_some() {
        Float32Array::new(data).to_vec()
    } else {
        return Err(js_err(format!(
            "input {:?}: expected a Float32Array, got {}",
            info.name,
            describe(&data.js_typeof())
        )));
    };
    let shape: Vec<usize> = if shape.is_undefined() || shape.is_null() {
        infer_shape(info, values.len()).map_err(js_err)?
    } else {
        Array::from(shape).iter().map(|d| d.as_f64().unwrap_or(-1.0).max(0.0) as usize).collect()
    };
    let n: usize = shape.iter().product();
    if n != values.len() {
        return Err(js_err(format!("input {:?}: shape {shape:?} needs {n} values, got {}", info.name, values.len())));
    }
    Ok(match info.dtype {
        crate::json::DType::Int32 | crate::json::DType::Int64 | crate::json::DType::Bool => {
            Tensor::i64(shape, values.iter().map(|&v| v as i64).collect())
        }
        _ => Tensor::f32(shape, values),
    })
}

#[wasm_bindgen]
impl Model {
    /// Loads `model.json` from `url` and its shards (fetched in parallel, verified by length and sha256).
    #[wasm_bindgen(js_name = load)]
    pub async fn load(
        url: String,
        #[wasm_bindgen(unchecked_param_type = "LoadOptions")] options: Option<Object>,
    ) -> Result<Model, JsValue> {
        let options: JsValue = options.map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
        let init = if options.is_undefined() { JsValue::UNDEFINED } else { get(&options, "fetch") };
        let on_progress: Option<Function> =
            if options.is_undefined() { None } else { get(&options, "onProgress").dyn_into().ok() };
        let backend = requested_backend(&options)?;
        let model_url = absolute_url(&url)?;
        let text = fetch(&model_url, &init).await?.text()?;
        let json_text =
            JsFuture::from(text).await?.as_string().ok_or_else(|| js_err(format!("{model_url}: body is not text")))?;
        let document = crate::ModelDocument::parse(&json_text, &model_url).map_err(js_err)?;
        let manifest = document.manifest();
        let urls: Vec<String> = document.shard_paths().map(|p| resolve_url(p, &model_url)).collect::<Result<_, _>>()?;
        let total: u64 = manifest
            .iter()
            .map(|g| {
                if g.shards.is_empty() {
                    g.weights.iter().map(|w| w.byte_len() as u64).sum()
                } else {
                    g.shards.iter().map(|s| s.byte_length).sum::<u64>()
                }
            })
            .sum();
        let received = Rc::new(Cell::new(0usize));
        let report = {
            let received = received.clone();
            let on_progress = on_progress.clone();
            Rc::new(move |n: usize| {
                received.set(received.get() + n);
                if let Some(f) = &on_progress {
                    if total > 0 {
                        let fraction = (received.get() as f64 / total as f64).min(1.0);
                        let _ = f.call1(&JsValue::NULL, &JsValue::from_f64(fraction));
                    }
                }
            })
        };
        let fetches = urls.iter().map(|u| {
            let report = report.clone();
            let init = init.clone();
            async move {
                let response = fetch(u, &init).await?;
                read_body(response, u, &*report).await
            }
        });
        let shards: Vec<Vec<u8>> = futures_util::future::try_join_all(fetches).await?;
        let size = shards.iter().map(Vec::len).sum::<usize>() + json_text.len();
        let inner = document.decode(&shards, &urls).and_then(crate::Model::from_graph).map_err(js_err)?;
        if let Some(f) = &on_progress {
            let _ = f.call1(&JsValue::NULL, &JsValue::from_f64(1.0));
        }
        Model::with_backend(inner, backend, size as f64, &options).await
    }

    /// Builds a model from bytes the caller already has: model.json (string or bytes) and the shards in
    /// manifest order.
    #[wasm_bindgen(js_name = fromBytes)]
    pub async fn from_bytes(
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] model_json: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array[]")] shards: Array,
        #[wasm_bindgen(unchecked_param_type = "LoadOptions")] options: Option<Object>,
    ) -> Result<Model, JsValue> {
        let text = match model_json.as_string() {
            Some(s) => s,
            None => String::from_utf8(Uint8Array::new(&model_json).to_vec())
                .map_err(|_| js_err("model.json bytes are not UTF-8"))?,
        };
        let shards: Vec<Vec<u8>> = shards.iter().map(|s| Uint8Array::new(&s).to_vec()).collect();
        let size = shards.iter().map(Vec::len).sum::<usize>() + text.len();
        let inner = crate::model_from_bytes(&text, &shards).map_err(js_err)?;
        let options: JsValue = options.map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
        Model::with_backend(inner, requested_backend(&options)?, size as f64, &options).await
    }

    async fn with_backend(
        mut cpu: crate::Model,
        requested: String,
        size_bytes: f64,
        options: &JsValue,
    ) -> Result<Model, JsValue> {
        let warm_up = wants_warm_up(options);
        let on_device_lost: Option<Function> =
            if options.is_undefined() { None } else { get(options, "onDeviceLost").dyn_into().ok() };
        let (gpu, cpu_reason) = if requested == "cpu" {
            (None, Some("the CPU backend was requested".to_string()))
        } else {
            match start_gpu(&cpu, warm_up).await {
                Ok(gpu) => (Some(Rc::new(gpu)), None),
                Err(e) if requested == "webgpu" => return Err(js_err(format!("backend \"webgpu\": {e}"))),
                Err(e) => (None, Some(e.to_string())),
            }
        };
        if gpu.is_none() && warm_up {
            cpu.warm_up().map_err(js_err)?;
        }
        let shared = Shared {
            cpu: RefCell::new(cpu),
            gpu: RefCell::new(gpu),
            cpu_reason: RefCell::new(cpu_reason),
            on_device_lost,
        };
        Ok(Model { shared: Rc::new(shared), size_bytes })
    }

    /// The model's inputs: `[{name, dtype, shape}]`.
    #[wasm_bindgen(getter, unchecked_return_type = "TensorInfo[]")]
    pub fn inputs(&self) -> Array {
        info_to_js(self.shared.cpu.borrow().inputs())
    }

    /// The model's outputs: `[{name, dtype, shape}]`.
    #[wasm_bindgen(getter, unchecked_return_type = "TensorInfo[]")]
    pub fn outputs(&self) -> Array {
        info_to_js(self.shared.cpu.borrow().outputs())
    }

    /// The backend in use: "cpu" or "webgpu". It changes from "webgpu" to "cpu" if the GPU device is lost.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        if self.shared.gpu.borrow().is_some() { "webgpu" } else { "cpu" }.to_string()
    }

    /// The GPU adapter in use (name and API), or undefined on the CPU.
    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> Option<String> {
        self.shared.gpu.borrow().as_ref().map(|g| g.gpu().adapter().to_string())
    }

    /// Why the model runs on the CPU (WebGPU missing, an op it cannot run, device lost), or undefined.
    #[wasm_bindgen(getter, js_name = cpuReason)]
    pub fn cpu_reason(&self) -> Option<String> {
        self.shared.cpu_reason.borrow().clone()
    }

    /// Destroys the GPU device as a driver reset would, to exercise recovery. No effect on the CPU.
    #[wasm_bindgen(js_name = simulateDeviceLoss)]
    pub fn simulate_device_loss(&self) {
        if let Some(gpu) = self.shared.gpu.borrow().as_ref() {
            gpu.gpu().simulate_loss();
        }
    }

    /// Bytes of model.json plus shards this model was loaded from.
    #[wasm_bindgen(getter, js_name = sizeBytes)]
    pub fn size_bytes(&self) -> f64 {
        self.size_bytes
    }

    /// Runs the model. `input` is a Float32Array (with an optional `shape`; a symbolic batch is solved
    /// from the length) or `{name: {data, shape}}` for several inputs. Resolves to `{data, shape}`, or
    /// to `{name: {data, shape}}` when the model has several outputs.
    #[wasm_bindgen(unchecked_return_type = "Promise<TensorData | Record<string, TensorData>>")]
    pub fn predict(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | number[] | Record<string, TensorData>")] input: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number[]")] shape: Option<Array>,
    ) -> Promise {
        let shape = shape.map_or(JsValue::UNDEFINED, JsValue::from);
        let tensors = match self.tensors_from_js(&input, &shape) {
            Ok(t) => t,
            Err(e) => return Promise::reject(&e),
        };
        let shared = Rc::clone(&self.shared);
        let gpu = shared.gpu.borrow().clone();
        if let Some(gpu) = gpu {
            if gpu.gpu().is_lost() {
                shared.leave_gpu("the GPU device was lost");
            } else {
                return wasm_bindgen_futures::future_to_promise(async move {
                    let result = match gpu.submit(&tensors) {
                        Ok(pending) => pending.outputs().await,
                        Err(e) => Err(e),
                    };
                    match result {
                        Ok(outputs) => shared.outputs_to_js(&outputs),
                        Err(Error::DeviceLost(msg)) => {
                            shared.leave_gpu(&msg);
                            let outputs = shared.cpu.borrow_mut().predict(&tensors).map_err(js_err)?;
                            shared.outputs_to_js(&outputs)
                        }
                        Err(e) => Err(js_err(e)),
                    }
                });
            }
        }
        match self.run_cpu(&tensors) {
            Ok(v) => Promise::resolve(&v),
            Err(e) => Promise::reject(&e),
        }
    }

    /// As `predict`, returning the result directly (CPU backend only).
    #[wasm_bindgen(js_name = predictSync, unchecked_return_type = "TensorData | Record<string, TensorData>")]
    pub fn predict_sync(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | number[] | Record<string, TensorData>")] input: &JsValue,
        #[wasm_bindgen(unchecked_param_type = "number[] | undefined")] shape: &JsValue,
    ) -> Result<JsValue, JsValue> {
        if self.shared.gpu.borrow().is_some() {
            return Err(js_err("predictSync runs on the CPU backend; this model runs on WebGPU, whose results arrive asynchronously: use `await model.predict(...)`, or load with {backend: \"cpu\"}"));
        }
        let tensors = self.tensors_from_js(input, shape)?;
        self.run_cpu(&tensors)
    }
}

impl Model {
    fn run_cpu(&self, tensors: &[Tensor]) -> Result<JsValue, JsValue> {
        let outputs = self.shared.cpu.borrow_mut().predict(tensors).map_err(js_err)?;
        self.shared.outputs_to_js(&outputs)
    }

    fn tensors_from_js(&self, input: &JsValue, shape: &JsValue) -> Result<Vec<Tensor>, JsValue> {
        let cpu = self.shared.cpu.borrow();
        let infos = cpu.inputs().to_vec();
        let direct = input.is_instance_of::<Float32Array>() || Array::is_array(input);
        if direct {
            if infos.len() != 1 {
                let names: Vec<&str> = infos.iter().map(|i| i.name.as_str()).collect();
                return Err(js_err(format!(
                    "the model has {} inputs {names:?}: pass {{name: {{data, shape}}}}",
                    infos.len()
                )));
            }
            Ok(vec![tensor_from_js(&infos[0], input, shape)?])
        } else if input.is_object() {
            let named: Vec<(String, JsValue)> = Object::entries(input.unchecked_ref::<Object>())
                .iter()
                .filter_map(|pair| {
                    let pair = Array::from(&pair);
                    pair.get(0).as_string().map(|name| (name, pair.get(1)))
                })
                .filter(|(_, entry)| !entry.is_undefined())
                .collect();
            let entries = cpu.order_by_name(named).map_err(js_err)?;
            infos
                .iter()
                .zip(&entries)
                .map(|(info, entry)| tensor_from_js(info, &get(entry, "data"), &get(entry, "shape")))
                .collect()
        } else {
            Err(js_err("predict expects a Float32Array or {name: {data, shape}}"))
        }
    }
}

/// Opens a WebGPU device and puts the model on it, warmed up (pipelines compiled, weights uploaded).
async fn start_gpu(cpu: &crate::Model, warm_up: bool) -> Result<GpuModel, Error> {
    let gpu = Rc::new(Gpu::request().await?);
    let model = GpuModel::new(gpu, cpu.share());
    if warm_up {
        model.warm_up().await?;
    }
    Ok(model)
}

fn wants_warm_up(options: &JsValue) -> bool {
    options.is_undefined() || get(options, "warmUp").as_bool() != Some(false)
}

fn requested_backend(options: &JsValue) -> Result<String, JsValue> {
    let backend = if options.is_undefined() { None } else { get(options, "backend").as_string() };
    match backend.as_deref().unwrap_or("auto") {
        b @ ("auto" | "cpu" | "webgpu") => Ok(b.to_string()),
        other => Err(js_err(format!("unknown backend {other:?}; use \"auto\", \"cpu\" or \"webgpu\""))),
    }
}

fn now_ms() -> f64 {
    let performance = get(&js_sys::global(), "performance");
    get(&performance, "now")
        .dyn_into::<Function>()
        .ok()
        .and_then(|f| f.call0(&performance).ok())
        .and_then(|v| v.as_f64())
        .unwrap_or_else(js_sys::Date::now)
}

/// Benchmarks the CPU backend's GEMM: `iters` products of n×n matrices (B packed once, as model weights
/// are; A packed per call, as activations are). Returns GFLOP/s.
#[wasm_bindgen(js_name = benchMatmul)]
pub fn bench_matmul(n: usize, iters: usize) -> f64 {
    use crate::ops::gemm::{gemm_packed, pack_a_into, pack_b, Activation, Bias, MR};
    let a: Vec<f32> = (0..n * n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0).collect();
    let b: Vec<f32> = (0..n * n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0).collect();
    let pb = pack_b(&b, n, n, n, 1);
    let mut pa = vec![0.0; n.div_ceil(MR) * MR * n];
    let mut c = vec![0.0; n * n];
    let mut run = || {
        pack_a_into(&a, n, n, n, 1, &mut pa);
        gemm_packed(n, n, n, &pa, &pb.data, &mut c, n, Bias::None, Activation::None);
    };
    run();
    let start = now_ms();
    for _ in 0..iters.max(1) {
        run();
    }
    let seconds = (now_ms() - start) / 1000.0;
    2.0 * (n * n * n) as f64 * iters.max(1) as f64 / seconds / 1e9
}
