//! The JavaScript API: `Model.load(url, options)`, `Model.fromBytes(json, shards)`, `model.predict(...)`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use js_sys::{Array, Float32Array, Function, Object, Promise, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
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
/** Options of Model.load and Model.fromBytes. An option of the wrong type, or an unknown backend, rejects with an
 * InputError. */
export interface LoadOptions {
  backend?: "auto" | "cpu" | "webgpu";
  onProgress?: (fraction: number) => void;
  /** Passed to fetch() for model.json and every shard (headers, credentials, cache, ...). */
  fetch?: RequestInit;
  /** Aborts the load: its requests are cancelled and the promise rejects with an AbortError. */
  signal?: AbortSignal;
  /** The most one request (model.json or a shard, body included) may take, in ms; past it the load's requests
   * are cancelled and the promise rejects with a TimeoutError naming the file and URL. */
  timeoutMs?: number;
  /** Plan and run once at batch 1 while loading, so the first predict does no graph work (default true). */
  warmUp?: boolean;
  /** Called when the GPU device is lost while the model is in use; the model has switched to the CPU. */
  onDeviceLost?: (message: string) => void;
  /** Bounds on what the model may make webinfer allocate, checked against declared sizes before any buffer
   * exists; raise them for bigger models. */
  limits?: Limits;
}
/** Allocation bounds (each optional; the defaults in brackets). Exceeding one rejects with a FormatError (weights)
 * or a ShapeError/OpError (planning) that names the tensor and its declared size. */
export interface Limits {
  /** Bytes of one stored weight [2^30]. */
  maxWeightBytes?: number;
  /** Bytes of all weights of the model, and of any one shard's body [2^31]. */
  maxModelBytes?: number;
  /** Elements of any one tensor a plan creates [2^28]. */
  maxTensorElements?: number;
  /** Elements of all the buffers one plan holds [2^29]. */
  maxPlanElements?: number;
}
/** Options of model.profile. */
export interface ProfileOptions {
  /** Profiled runs, after one untimed run (default 10). */
  runs?: number;
}
/** One node of a profile: mean milliseconds per run, its share of the total and its output shape. */
export interface ProfileRow { op: string; node: string; ms: number; share: number; shape: number[]; }
/** model.profile's result: one row per planned node, in execution order. */
export interface Profile {
  backend: "cpu" | "webgpu";
  /** How the rows were timed: "cpu-kernel" (performance.now around each CPU kernel), "webgpu-timestamp" (GPU
   * timestamp queries around each node's compute passes, one submission per run: where the adapter has them) or
   * "webgpu-dispatch-wall" (each node's dispatches submitted alone and waited for: wall time, submit and
   * completion wait included). */
  timing: "cpu-kernel" | "webgpu-timestamp" | "webgpu-dispatch-wall";
  runs: number;
  /** Sum of the rows' mean ms. */
  totalMs: number;
  rows: ProfileRow[];
}
/** The `name` of every Error webinfer throws or rejects with, one per kind (docs/API.md lists when each happens). */
export type WebinferErrorName =
  | "FormatError" | "ShardError" | "ShapeError" | "OpError" | "InputError" | "UnsupportedOpError"
  | "UnsupportedError" | "IoError" | "GpuError" | "DeviceLostError" | "AbortError" | "TimeoutError";
"#;

/// A JavaScript `Error` whose `name` is the kind's ([`Error::name`]: `ShardError`, `InputError`, …).
fn js_error(e: Error) -> JsValue {
    named_error(e.name(), &e.to_string())
}

fn named_error(name: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name(name);
    error.into()
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A serde-wasm-bindgen error's message (the error is a JS Error).
fn serde_message(e: serde_wasm_bindgen::Error) -> String {
    describe(&e.into())
}

/// `Model.load` and `Model.fromBytes` options (the `LoadOptions` TS interface); unknown keys are ignored. The
/// functions and the fetch `RequestInit` stay JS values; a callback that is not a function is ignored.
#[derive(Default, Deserialize)]
#[serde(rename = "LoadOptions", rename_all = "camelCase", default)]
struct LoadOptions {
    backend: Option<String>,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    on_progress: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    fetch: JsValue,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    signal: JsValue,
    timeout_ms: Option<f64>,
    warm_up: Option<bool>,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    on_device_lost: JsValue,
    limits: Option<crate::Limits>,
}

/// The backend asked for.
#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Auto,
    Cpu,
    WebGpu,
}

impl LoadOptions {
    fn from_js(options: Option<Object>) -> Result<Self, Error> {
        let Some(options) = options else { return Ok(LoadOptions::default()) };
        let options: LoadOptions = serde_wasm_bindgen::from_value(options.into())
            .map_err(|e| Error::Input(format!("LoadOptions: {}", serde_message(e))))?;
        options.backend()?;
        Ok(options)
    }

    fn backend(&self) -> Result<Backend, Error> {
        match self.backend.as_deref().unwrap_or("auto") {
            "auto" => Ok(Backend::Auto),
            "cpu" => Ok(Backend::Cpu),
            "webgpu" => Ok(Backend::WebGpu),
            other => Err(Error::Input(format!("unknown backend {other:?}; use \"auto\", \"cpu\" or \"webgpu\""))),
        }
    }

    fn warm_up(&self) -> bool {
        self.warm_up != Some(false)
    }

    fn on_progress(&self) -> Option<Function> {
        self.on_progress.clone().dyn_into().ok()
    }

    fn on_device_lost(&self) -> Option<Function> {
        self.on_device_lost.clone().dyn_into().ok()
    }

    fn limits(&self) -> crate::Limits {
        self.limits.unwrap_or_default()
    }
}

/// One `{data, shape}` of `predict({name: {data, shape}})`. `data` stays a JS value (a Float32Array is copied
/// into wasm once, never walked element by element); a missing `shape` is inferred from the declared one.
#[derive(Deserialize)]
#[serde(rename = "TensorData")]
struct TensorArg {
    #[serde(default, with = "serde_wasm_bindgen::preserve")]
    data: JsValue,
    #[serde(default)]
    shape: Option<Vec<f64>>,
}

/// `{name: {data, shape}}`: each name and its entry (still a JS value), in the object's key order.
struct NamedInputs(Vec<(String, JsValue)>);

/// A JS value passed through serde unchanged.
#[derive(Deserialize)]
struct Preserved(#[serde(with = "serde_wasm_bindgen::preserve")] JsValue);

impl<'de> Deserialize<'de> for NamedInputs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = NamedInputs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("{name: {data, shape}}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<NamedInputs, A::Error> {
                let mut entries = Vec::new();
                while let Some((name, Preserved(entry))) = map.next_entry::<String, Preserved>()? {
                    entries.push((name, entry));
                }
                Ok(NamedInputs(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// A result tensor (the `TensorData` TS interface); `data` is built as a Float32Array and passed through.
#[derive(Serialize)]
struct TensorOut {
    #[serde(with = "serde_wasm_bindgen::preserve")]
    data: Float32Array,
    shape: Vec<f64>,
}

impl TensorOut {
    fn of(t: &Tensor) -> Self {
        TensorOut { data: Float32Array::from(&t.to_f32s()[..]), shape: t.shape.iter().map(|&d| d as f64).collect() }
    }
}

/// `{name: {data, shape}}` of a model with several outputs, in graph-output order.
struct NamedOutputs<'a>(Vec<(&'a str, TensorOut)>);

impl Serialize for NamedOutputs<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, t)| (name, t)))
    }
}

/// A graph input or output (the `TensorInfo` TS interface).
#[derive(Serialize)]
struct TensorInfo<'a> {
    name: &'a str,
    dtype: &'static str,
    shape: Vec<InfoDim<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum InfoDim<'a> {
    Fixed(f64),
    Symbol(&'a str),
}

/// Results and graph infos: maps become plain objects.
const TO_JS: serde_wasm_bindgen::Serializer = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);

/// The webinfer version.
#[wasm_bindgen]
pub fn version() -> String {
    crate::version().to_string()
}

/// The CPU kernels this wasm was built with: "relaxed-simd" (fused multiply-add, webinfer_relaxed_bg.wasm) or
/// "simd128" (the baseline, webinfer_bg.wasm).
#[wasm_bindgen(js_name = simdBuild)]
pub fn simd_build() -> String {
    if cfg!(target_feature = "relaxed-simd") { "relaxed-simd" } else { "simd128" }.to_string()
}

/// A panic (a bug: bad input gets an error, never a panic) is logged to the console as `webinfer panicked at
/// file:line:col: message` before the wasm traps.
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| console_log("error", &format!("webinfer {info}"))));
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
    /// Why the model runs on the CPU ("auto"'s rule, a request, or why the WebGPU backend was left); None on WebGPU.
    cpu_reason: RefCell<Option<String>>,
    /// Why the model runs where it does: the adapter, the measured times and the rule that decided.
    backend_reason: RefCell<String>,
    on_device_lost: Option<Function>,
}

impl Shared {
    fn leave_gpu(&self, reason: &str) {
        if self.gpu.borrow_mut().take().is_some() {
            let msg = format!("webinfer: {reason}; continuing on the CPU backend");
            console_warn(&msg);
            *self.cpu_reason.borrow_mut() = Some(reason.to_string());
            *self.backend_reason.borrow_mut() = format!("left WebGPU: {reason}; now on the CPU");
            if let Some(f) = &self.on_device_lost {
                let _ = f.call1(&JsValue::NULL, &JsValue::from_str(reason));
            }
        }
    }

    /// `{data, shape}`, or `{name: {data, shape}}` for several outputs. (Not inlined: `predict`'s three paths
    /// share one copy.)
    #[inline(never)]
    fn outputs_to_js(&self, outputs: &[Tensor]) -> Result<JsValue, JsValue> {
        let js = if outputs.len() == 1 {
            TensorOut::of(&outputs[0]).serialize(&TO_JS)
        } else {
            let cpu = self.cpu.borrow();
            let named = cpu.outputs().iter().zip(outputs).map(|(info, t)| (info.name.as_str(), TensorOut::of(t)));
            NamedOutputs(named.collect()).serialize(&TO_JS)
        };
        js.map_err(|e| js_error(Error::Shape(format!("outputs: {}", serde_message(e)))))
    }
}

fn console_warn(msg: &str) {
    console_log("warn", msg);
}

/// `console[level](msg)`.
fn console_log(level: &str, msg: &str) {
    let console = get(&js_sys::global(), "console");
    if let Ok(log) = get(&console, level).dyn_into::<Function>() {
        let _ = log.call1(&console, &JsValue::from_str(msg));
    }
}

/// Resolves `url` against the page's (or worker's) location; unchanged where there is none.
fn absolute_url(url: &str) -> Result<String, Error> {
    match get(&get(&js_sys::global(), "location"), "href").as_string() {
        Some(href) => web_sys::Url::new_with_base(url, &href)
            .map(|u| u.href())
            .map_err(|e| Error::Input(format!("model URL {url:?}: {}", describe(&e)))),
        None => Ok(url.to_string()),
    }
}

/// Resolves a shard path against the absolute model.json URL.
fn resolve_url(path: &str, model_url: &str) -> Result<String, Error> {
    web_sys::Url::new_with_base(path, model_url)
        .map(|u| u.href())
        .map_err(|e| Error::Format(format!("{model_url}: shard path {path:?}: {}", describe(&e))))
}

/// What a fetch is for: a failure to fetch or read model.json is an `IoError` (as reading it from disk is),
/// one for a shard a `ShardError` (as a missing or unreadable shard file is).
/// A shard's error names its manifest file as well as its URL.
#[derive(Clone, Copy)]
enum Fetched<'a> {
    ModelJson,
    Shard(&'a str),
}

impl Fetched<'_> {
    fn error(self, msg: String) -> Error {
        match self {
            Fetched::ModelJson => Error::Io(msg),
            Fetched::Shard(file) => Error::Shard(format!("shard {file:?}: {msg}")),
        }
    }
}

/// The cancellation of one load: every request carries a signal combining the load's own AbortController (aborted
/// when the load fails, so no request outlives it), the caller's `signal` and a per-request `timeoutMs`.
struct LoadSignal {
    controller: JsValue,
    caller: JsValue,
    timeout_ms: Option<f64>,
}

impl LoadSignal {
    fn new(options: &LoadOptions) -> Self {
        let constructor: Function = get(&js_sys::global(), "AbortController").unchecked_into();
        let controller = Reflect::construct(&constructor, &Array::new()).unwrap_or_default();
        let caller = if options.signal.is_object() { options.signal.clone() } else { JsValue::UNDEFINED };
        LoadSignal { controller, caller, timeout_ms: options.timeout_ms.filter(|ms| *ms > 0.0) }
    }

    /// `init` with the signal for one request (its timeout starts now).
    #[inline(never)]
    fn request_init(&self, init: &JsValue) -> JsValue {
        let abort_signal = get(&js_sys::global(), "AbortSignal");
        let call = |name: &str, arg: &JsValue| {
            get(&abort_signal, name).unchecked_into::<Function>().call1(&abort_signal, arg).unwrap_or_default()
        };
        let signals = Array::of1(&get(&self.controller, "signal"));
        if self.caller.is_object() {
            signals.push(&self.caller);
        }
        if let Some(ms) = self.timeout_ms {
            signals.push(&call("timeout", &JsValue::from_f64(ms)));
        }
        let init = Object::assign(&Object::new(), init.unchecked_ref());
        let _ = Reflect::set(&init, &JsValue::from_str("signal"), &call("any", &signals));
        init.into()
    }

    /// An AbortError once the caller's signal has aborted.
    #[inline(never)]
    fn check(&self, url: &str) -> Result<(), Error> {
        if get(&self.caller, "aborted").as_bool() == Some(true) {
            let reason = get(&self.caller, "reason");
            let why = if reason.is_undefined() { String::new() } else { format!(": {}", describe(&reason)) };
            return Err(Error::Aborted(format!("loading {url} was aborted{why}")));
        }
        Ok(())
    }

    /// The error for a failed request: an abort or timeout by this signal, else `what`'s kind.
    #[inline(never)]
    fn request_error(&self, what: Fetched<'_>, url: &str, doing: &str, e: &JsValue) -> Error {
        let named = |error: fn(String) -> Error, msg: String| match what {
            Fetched::ModelJson => error(msg),
            Fetched::Shard(file) => error(format!("shard {file:?}: {msg}")),
        };
        match get(e, "name").as_string().as_deref() {
            Some("TimeoutError") if get(&self.caller, "aborted").as_bool() != Some(true) => named(
                Error::Timeout,
                format!("{doing} {url} took longer than {:.0} ms (timeoutMs)", self.timeout_ms.unwrap_or(0.0)),
            ),
            Some("AbortError" | "TimeoutError") if self.check(url).is_err() => {
                named(Error::Aborted, format!("{doing} {url} was aborted: {}", describe(e)))
            }
            _ => what.error(format!("{doing} {url} failed: {}", describe(e))),
        }
    }

    /// Cancels every request of the load still running.
    #[inline(never)]
    fn cancel(&self) {
        if let Ok(abort) = get(&self.controller, "abort").dyn_into::<Function>() {
            let _ = abort.call0(&self.controller);
        }
    }
}

async fn fetch(url: &str, signal: &LoadSignal, init: &JsValue, what: Fetched<'_>) -> Result<web_sys::Response, Error> {
    let fetch: Function =
        get(&js_sys::global(), "fetch").dyn_into().map_err(|_| what.error("fetch() is not available here".into()))?;
    let failed = |e: JsValue| signal.request_error(what, url, "fetch", &e);
    let init = signal.request_init(init);
    let promise: Promise =
        fetch.call2(&JsValue::UNDEFINED, &JsValue::from_str(url), &init).map_err(failed)?.dyn_into().map_err(|v| {
            what.error(format!(
                "fetch {url} failed: fetch() returned {} instead of a Promise",
                describe(&v.js_typeof())
            ))
        })?;
    let response: web_sys::Response = JsFuture::from(promise)
        .await
        .map_err(failed)?
        .dyn_into()
        .map_err(|_| what.error(format!("fetch {url} failed: it did not resolve to a Response")))?;
    if !response.ok() {
        return Err(what.error(format!("HTTP {} {} for {url}", response.status(), response.status_text())));
    }
    Ok(response)
}

fn describe(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Reads model.json's body as text.
async fn read_text(response: web_sys::Response, url: &str, signal: &LoadSignal) -> Result<String, Error> {
    let failed = |e: JsValue| signal.request_error(Fetched::ModelJson, url, "reading", &e);
    let text = JsFuture::from(response.text().map_err(failed)?).await.map_err(failed)?;
    text.as_string().ok_or_else(|| Fetched::ModelJson.error(format!("{url}: body is not text")))
}

/// Reads a shard's body chunk by chunk, reporting each chunk's size; a body over `max_bytes` stops the read.
async fn read_body(
    response: web_sys::Response,
    file: &str,
    url: &str,
    max_bytes: u64,
    signal: &LoadSignal,
    on_chunk: &dyn Fn(usize),
) -> Result<Vec<u8>, Error> {
    let too_long =
        || Fetched::Shard(file).error(format!("{url} sends more than {max_bytes} bytes (limits.maxModelBytes)"));
    let failed = |e: JsValue| signal.request_error(Fetched::Shard(file), url, "reading", &e);
    let Some(body) = response.body() else {
        let buf = JsFuture::from(response.array_buffer().map_err(failed)?).await.map_err(failed)?;
        let array = Uint8Array::new(&buf);
        if u64::from(array.length()) > max_bytes {
            return Err(too_long());
        }
        let bytes = array.to_vec();
        on_chunk(bytes.len());
        return Ok(bytes);
    };
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().dyn_into().map_err(|r| failed(r.into()))?;
    let mut bytes = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(failed)?;
        if get(&chunk, "done").as_bool().unwrap_or(true) {
            break;
        }
        let value = Uint8Array::new(&get(&chunk, "value"));
        if (bytes.len() as u64).saturating_add(u64::from(value.length())) > max_bytes {
            let _ = reader.cancel();
            return Err(too_long());
        }
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        on_chunk(value.length() as usize);
    }
    Ok(bytes)
}

fn info_to_js(info: &[ValueInfo]) -> Array {
    let infos: Vec<TensorInfo> = info
        .iter()
        .map(|v| TensorInfo {
            name: &v.name,
            dtype: v.dtype.name(),
            shape: v
                .shape
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => InfoDim::Fixed(*n as f64),
                    Dim::Symbol(s) => InfoDim::Symbol(s),
                })
                .collect(),
        })
        .collect();
    // Strings, numbers, objects and arrays only: nothing here can fail to serialize.
    infos.serialize(&TO_JS).map(|v| v.unchecked_into::<Array>()).unwrap_or_default()
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

/// The `shape` argument of `predict(data, shape)`: a number array, or undefined/null to infer it.
fn shape_arg(shape: JsValue) -> Result<Option<Vec<f64>>, Error> {
    serde_wasm_bindgen::from_value(shape).map_err(|e| Error::Input(format!("shape: {}", serde_message(e))))
}

/// A tensor from a Float32Array (or a number array or other array-like) and its shape.
fn tensor_from_js(info: &ValueInfo, data: &JsValue, shape: Option<Vec<f64>>) -> Result<Tensor, Error> {
    let values: Vec<f32> = if data.is_instance_of::<Float32Array>() {
        data.unchecked_ref::<Float32Array>().to_vec()
    } else if Array::is_array(data) || get(data, "length").as_f64().is_some() {
        Float32Array::new(data).to_vec()
    } else {
        return Err(Error::Input(format!(
            "input {:?}: expected a Float32Array, got {}",
            info.name,
            describe(&data.js_typeof())
        )));
    };
    let shape: Vec<usize> = match shape {
        None => infer_shape(info, values.len())?,
        Some(dims) => dims.iter().map(|&d| d.max(0.0) as usize).collect(),
    };
    let n: usize = shape.iter().product();
    if n != values.len() {
        return Err(Error::Input(format!(
            "input {:?}: shape {shape:?} needs {n} values, got {}",
            info.name,
            values.len()
        )));
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
        #[wasm_bindgen(unchecked_optional_param_type = "LoadOptions")] options: Option<Object>,
    ) -> Result<Model, JsValue> {
        let options = LoadOptions::from_js(options).map_err(js_error)?;
        let signal = LoadSignal::new(&options);
        let loaded = fetch_model(&url, &options, &signal).await;
        let model = match loaded {
            Ok((inner, size, model_json)) => Model::with_backend(inner, size as f64, &model_json, &options).await,
            Err(e) => Err(js_error(e)),
        };
        match model {
            Ok(model) => signal.check(&url).map(|()| model).map_err(js_error),
            Err(e) => {
                signal.cancel();
                Err(e)
            }
        }
    }

    /// Builds a model from bytes the caller already has: model.json (string or bytes) and the shards in
    /// manifest order.
    #[wasm_bindgen(js_name = fromBytes)]
    pub async fn from_bytes(
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] model_json: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array[]")] shards: Array,
        #[wasm_bindgen(unchecked_optional_param_type = "LoadOptions")] options: Option<Object>,
    ) -> Result<Model, JsValue> {
        let text = match model_json.as_string() {
            Some(s) => s,
            None => String::from_utf8(Uint8Array::new(&model_json).to_vec())
                .map_err(|_| js_error(Error::Format("model.json bytes are not UTF-8".into())))?,
        };
        let options = LoadOptions::from_js(options).map_err(js_error)?;
        let shards: Vec<Vec<u8>> = shards.iter().map(|s| Uint8Array::new(&s).to_vec()).collect();
        let size = shards.iter().map(Vec::len).sum::<usize>() + text.len();
        let inner = crate::model_from_bytes_with(&text, &shards, &options.limits()).map_err(js_error)?;
        Model::with_backend(inner, size as f64, &text, &options).await
    }

    async fn with_backend(
        mut cpu: crate::Model,
        size_bytes: f64,
        model_json: &str,
        options: &LoadOptions,
    ) -> Result<Model, JsValue> {
        let requested = options.backend().map_err(js_error)?;
        let warm_up = options.warm_up();
        let (gpu, backend_reason) = match requested {
            Backend::Cpu => (None, "the CPU backend was requested".to_string()),
            Backend::WebGpu => match start_gpu(&cpu, warm_up).await {
                Ok(gpu) => {
                    let why = format!("the WebGPU backend was requested; adapter {}", gpu.gpu().adapter());
                    (Some(gpu), why)
                }
                Err(e) => return Err(named_error(e.name(), &format!("backend \"webgpu\": {e}"))),
            },
            Backend::Auto => choose_auto(&mut cpu, warm_up, model_json).await,
        };
        if gpu.is_none() && warm_up {
            cpu.warm_up().map_err(js_error)?;
        }
        let shared = Shared {
            cpu: RefCell::new(cpu),
            cpu_reason: RefCell::new(gpu.is_none().then(|| backend_reason.clone())),
            gpu: RefCell::new(gpu.map(Rc::new)),
            backend_reason: RefCell::new(backend_reason),
            on_device_lost: options.on_device_lost(),
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

    /// Why the model runs on the CPU (no WebGPU, a software adapter, measured slower, an op it cannot run, device
    /// lost, or requested), or undefined on WebGPU.
    #[wasm_bindgen(getter, js_name = cpuReason)]
    pub fn cpu_reason(&self) -> Option<String> {
        self.shared.cpu_reason.borrow().clone()
    }

    /// Why the model runs on its backend: the adapter, both measured times where `auto` raced them, and the rule
    /// that decided.
    #[wasm_bindgen(getter, js_name = backendReason)]
    pub fn backend_reason(&self) -> String {
        self.shared.backend_reason.borrow().clone()
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
        #[wasm_bindgen(unchecked_optional_param_type = "number[]")] shape: Option<Array>,
    ) -> Promise {
        let shape = shape.map_or(JsValue::UNDEFINED, JsValue::from);
        let tensors = match self.tensors_from_js(&input, shape) {
            Ok(t) => t,
            Err(e) => return Promise::reject(&js_error(e)),
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
                            let outputs = shared.cpu.borrow_mut().predict(&tensors).map_err(js_error)?;
                            shared.outputs_to_js(&outputs)
                        }
                        Err(e) => Err(js_error(e)),
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
        #[wasm_bindgen(unchecked_optional_param_type = "number[]")] shape: &JsValue,
    ) -> Result<JsValue, JsValue> {
        if self.shared.gpu.borrow().is_some() {
            return Err(js_error(Error::Unsupported("predictSync runs on the CPU backend; this model runs on WebGPU, whose results arrive asynchronously: use `await model.predict(...)`, or load with {backend: \"cpu\"}".into())));
        }
        let tensors = self.tensors_from_js(input, shape.clone()).map_err(js_error)?;
        self.run_cpu(&tensors)
    }
}

/// `performance.now()`, where the global has it (pages and workers), else `Date.now()`.
fn clock() -> impl Fn() -> f64 {
    let performance = get(&js_sys::global(), "performance");
    let now = get(&performance, "now").dyn_into::<Function>().ok();
    move || match &now {
        Some(now) => now.call0(&performance).ok().and_then(|v| v.as_f64()).unwrap_or(0.0),
        None => js_sys::Date::now(),
    }
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

#[wasm_bindgen]
impl Model {
    /// Runs the model once untimed and then `runs` times (default 10) timing every node, on the backend in use:
    /// resolves to per-op rows (op, node, mean ms, share, output shape) in execution order.
    #[wasm_bindgen(unchecked_return_type = "Promise<Profile>")]
    pub fn profile(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Float32Array | number[] | Record<string, TensorData>")] input: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number[]")] shape: Option<Array>,
        #[wasm_bindgen(unchecked_optional_param_type = "ProfileOptions")] options: Option<Object>,
    ) -> Promise {
        let runs = options.as_ref().map_or(JsValue::UNDEFINED, |o| get(o, "runs")).as_f64().unwrap_or(10.0);
        if !(1.0..=1e6).contains(&runs) || runs.fract() != 0.0 {
            let e = Error::Input(format!("profile: runs {runs} is not a whole number from 1 to 1000000"));
            return Promise::reject(&js_error(e));
        }
        let tensors = match self.tensors_from_js(&input, shape.map_or(JsValue::UNDEFINED, JsValue::from)) {
            Ok(t) => t,
            Err(e) => return Promise::reject(&js_error(e)),
        };
        let shared = Rc::clone(&self.shared);
        wasm_bindgen_futures::future_to_promise(async move {
            let clock = clock();
            let gpu = shared.gpu.borrow().clone();
            let mut steps: Vec<crate::OpTiming> = Vec::new();
            let mut sums: Vec<f64> = Vec::new();
            let mut timing = "cpu-kernel";
            for run in 0..=runs as usize {
                let timings = match &gpu {
                    Some(gpu) => gpu.profile(&tensors, &clock).await.map(|(t, on_gpu_clock)| {
                        timing = if on_gpu_clock { "webgpu-timestamp" } else { "webgpu-dispatch-wall" };
                        t
                    }),
                    None => shared.cpu.borrow_mut().profile(&tensors, &clock).map(|(_, t)| t),
                }
                .map_err(js_error)?;
                if run == 0 {
                    sums = vec![0.0; timings.len()];
                    steps = timings;
                } else {
                    for (sum, t) in sums.iter_mut().zip(&timings) {
                        *sum += t.ms / runs;
                    }
                }
            }
            let total: f64 = sums.iter().sum();
            let rows = Array::new();
            for (t, ms) in steps.iter().zip(&sums) {
                let row = Object::new();
                set(&row, "op", &JsValue::from_str(&t.op));
                set(&row, "node", &JsValue::from_str(&t.node));
                set(&row, "ms", &JsValue::from_f64(*ms));
                set(&row, "share", &JsValue::from_f64(if total > 0.0 { ms / total } else { 0.0 }));
                set(&row, "shape", &t.shape.iter().map(|&d| JsValue::from_f64(d as f64)).collect::<Array>());
                rows.push(&row);
            }
            let out = Object::new();
            let on_gpu = gpu.is_some();
            set(&out, "backend", &JsValue::from_str(if on_gpu { "webgpu" } else { "cpu" }));
            set(&out, "timing", &JsValue::from_str(timing));
            set(&out, "runs", &JsValue::from_f64(runs));
            set(&out, "totalMs", &JsValue::from_f64(total));
            set(&out, "rows", &rows);
            Ok(out.into())
        })
    }
}

/// Test hooks, in builds with the `testing` feature only (the browser suites); never in the shipped package.
#[cfg(feature = "testing")]
#[wasm_bindgen]
impl Model {
    /// Destroys the GPU device as a driver reset would, to exercise recovery. No effect on the CPU.
    #[wasm_bindgen(js_name = simulateDeviceLoss)]
    pub fn simulate_device_loss(&self) {
        if let Some(gpu) = self.shared.gpu.borrow().as_ref() {
            gpu.gpu().simulate_loss();
        }
    }
}

/// Fetches model.json and its shards (in parallel, reporting progress) and builds the model; also returns the
/// bytes fetched and model.json's text.
async fn fetch_model(
    url: &str,
    options: &LoadOptions,
    signal: &LoadSignal,
) -> Result<(crate::Model, usize, String), Error> {
    let init = &options.fetch;
    let on_progress = options.on_progress();
    let model_url = absolute_url(url)?;
    signal.check(&model_url)?;
    let json_text = read_text(fetch(&model_url, signal, init, Fetched::ModelJson).await?, &model_url, signal).await?;
    let limits = options.limits();
    let document = crate::ModelDocument::parse_with(&json_text, &model_url, &limits)?;
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
    let fetches = urls.iter().zip(document.shard_paths()).map(|(url, file)| {
        let report = report.clone();
        async move {
            let response = fetch(url, signal, init, Fetched::Shard(file)).await?;
            read_body(response, file, url, limits.max_model_bytes, signal, &*report).await
        }
    });
    let shards: Vec<Vec<u8>> = futures_util::future::try_join_all(fetches).await?;
    signal.check(&model_url)?;
    let size = shards.iter().map(Vec::len).sum::<usize>() + json_text.len();
    let mut inner = document.decode(&shards, &urls).and_then(crate::Model::from_graph)?;
    inner.set_limits(limits);
    if let Some(f) = &on_progress {
        let _ = f.call1(&JsValue::NULL, &JsValue::from_f64(1.0));
    }
    Ok((inner, size, json_text))
}

impl Model {
    fn run_cpu(&self, tensors: &[Tensor]) -> Result<JsValue, JsValue> {
        let outputs = self.shared.cpu.borrow_mut().predict(tensors).map_err(js_error)?;
        self.shared.outputs_to_js(&outputs)
    }

    /// The tensors of `predict(input, shape)`, in graph-input order.
    fn tensors_from_js(&self, input: &JsValue, shape: JsValue) -> Result<Vec<Tensor>, Error> {
        let cpu = self.shared.cpu.borrow();
        let infos = cpu.inputs();
        let direct = input.is_instance_of::<Float32Array>() || Array::is_array(input);
        if direct {
            if infos.len() != 1 {
                let names: Vec<&str> = infos.iter().map(|i| i.name.as_str()).collect();
                return Err(Error::Input(format!(
                    "the model has {} inputs {names:?}: pass {{name: {{data, shape}}}}",
                    infos.len()
                )));
            }
            Ok(vec![tensor_from_js(&infos[0], input, shape_arg(shape)?)?])
        } else if input.is_object() {
            let NamedInputs(entries) = serde_wasm_bindgen::from_value(input.clone())
                .map_err(|e| Error::Input(format!("predict: {}", serde_message(e))))?;
            let mut named = Vec::with_capacity(entries.len());
            for (name, entry) in entries {
                // An undefined (or null) entry counts as absent.
                let entry: Option<TensorArg> = serde_wasm_bindgen::from_value(entry)
                    .map_err(|e| Error::Input(format!("input {name:?}: {}", serde_message(e))))?;
                named.extend(entry.map(|t| (name, t)));
            }
            let entries = cpu.order_by_name(named)?;
            infos.iter().zip(entries).map(|(info, entry)| tensor_from_js(info, &entry.data, entry.shape)).collect()
        } else {
            Err(Error::Input("predict expects a Float32Array or {name: {data, shape}}".into()))
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

/// What the browser reports about its WebGPU adapter, read before any device is opened.
struct AdapterProbe {
    /// The non-empty ones of vendor, architecture, device and description, joined by " / ".
    label: String,
    /// Why it is a software renderer, or None for real hardware.
    software: Option<String>,
}

/// Asks `navigator.gpu` for its high-performance adapter and reads `GPUAdapterInfo`; Err says why there is no
/// WebGPU.
async fn probe_adapter() -> Result<AdapterProbe, String> {
    let gpu = get(&get(&js_sys::global(), "navigator"), "gpu");
    if gpu.is_undefined() || gpu.is_null() {
        return Err("this browser has no WebGPU (navigator.gpu is missing)".into());
    }
    let request: Function = get(&gpu, "requestAdapter")
        .dyn_into()
        .map_err(|_| "navigator.gpu.requestAdapter is not a function".to_string())?;
    let options = Object::new();
    let _ = Reflect::set(&options, &"powerPreference".into(), &"high-performance".into());
    let failed = |e: JsValue| format!("navigator.gpu.requestAdapter() failed: {}", describe(&e));
    let promise: Promise = request.call1(&gpu, &options).map_err(failed)?.unchecked_into();
    let adapter = JsFuture::from(promise).await.map_err(failed)?;
    if adapter.is_undefined() || adapter.is_null() {
        return Err("navigator.gpu.requestAdapter() found no WebGPU adapter".into());
    }
    let info = get(&adapter, "info");
    let names =
        ["vendor", "architecture", "device", "description"].map(|k| get(&info, k).as_string().unwrap_or_default());
    let fallback = get(&info, "isFallbackAdapter").as_bool().or_else(|| get(&adapter, "isFallbackAdapter").as_bool());
    let software = crate::choice::software_renderer(fallback, &names.each_ref().map(String::as_str));
    let label: Vec<&str> = names.iter().map(String::as_str).filter(|n| !n.is_empty()).collect();
    let label = if label.is_empty() { "an unnamed adapter".to_string() } else { label.join(" / ") };
    Ok(AdapterProbe { label, software })
}

/// `backend: "auto"`: no GPU, or a software one, means the CPU; with a real GPU, both backends are timed on a few
/// warm runs and the faster wins. The outcome is kept in localStorage per model.json sha256 and adapter, so a
/// later load on this device skips the race.
async fn choose_auto(cpu: &mut crate::Model, warm_up: bool, model_json: &str) -> (Option<GpuModel>, String) {
    let probe = match probe_adapter().await {
        Ok(probe) => probe,
        Err(why) => return (None, format!("auto: {why}, so the CPU")),
    };
    let adapter = &probe.label;
    if let Some(why) = probe.software.as_ref().filter(|_| !race_software_adapters()) {
        return (
            None,
            format!("auto: the WebGPU adapter ({adapter}) is a software renderer ({why}), slower than the SIMD CPU backend, so the CPU"),
        );
    }
    let key = format!("webinfer.auto/{}/{adapter}", crate::weights::sha256_hex(model_json.as_bytes()));
    let cached = stored_race(&key);
    let earlier = " (measured at an earlier load on this device)";
    if let Some(race) = cached.filter(|r| !r.gpu_wins()) {
        return (None, race.reason(adapter) + earlier);
    }
    let gpu = match start_gpu(cpu, warm_up || cached.is_none()).await {
        Ok(gpu) => gpu,
        Err(e) => return (None, format!("auto: WebGPU on {adapter} cannot run this model ({e}), so the CPU")),
    };
    if let Some(race) = cached {
        return (Some(gpu), race.reason(adapter) + earlier);
    }
    match race(cpu, &gpu).await {
        Ok(Some(race)) => {
            store_race(&key, &race);
            let why = race.reason(adapter);
            (race.gpu_wins().then_some(gpu), why)
        }
        Ok(None) => {
            (Some(gpu), format!("auto: {adapter} is a real GPU, and integer inputs leave nothing to time, so WebGPU"))
        }
        Err(e) => (None, format!("auto: a timed run on WebGPU ({adapter}) failed ({e}), so the CPU")),
    }
}

/// A test hook: with the `testing` feature, `globalThis.__webinferRaceSoftwareAdapters = true` makes `auto` race a
/// software adapter as if it were real, so the browser suites can run the race on SwiftShader.
fn race_software_adapters() -> bool {
    cfg!(feature = "testing") && get(&js_sys::global(), "__webinferRaceSoftwareAdapters").as_bool() == Some(true)
}

/// Times warm runs of both backends on the warm-up inputs, within `choice::RACE_BUDGET_MS`; None when the model
/// has integer inputs.
async fn race(cpu: &mut crate::Model, gpu: &GpuModel) -> Result<Option<crate::choice::Race>, Error> {
    use crate::choice::{another_run, Race};
    let Some(inputs) = cpu.warm_up_inputs() else { return Ok(None) };
    cpu.predict(&inputs)?;
    let (mut cpu_ms, mut gpu_ms, mut runs) = (f64::INFINITY, f64::INFINITY, 0);
    let started = now_ms();
    while another_run(runs, now_ms() - started) {
        let t = now_ms();
        cpu.predict(&inputs)?;
        cpu_ms = cpu_ms.min(now_ms() - t);
        let t = now_ms();
        gpu.predict(&inputs).await?;
        gpu_ms = gpu_ms.min(now_ms() - t);
        runs += 1;
    }
    Ok(Some(Race { cpu_ms, gpu_ms, runs }))
}

/// localStorage, where the page has it (not in workers, not in opaque origins).
fn local_storage() -> Option<JsValue> {
    let storage = Reflect::get(&js_sys::global(), &"localStorage".into()).ok()?;
    (!storage.is_undefined() && !storage.is_null()).then_some(storage)
}

/// A race kept as whole microseconds: parsing integers keeps core's float parser (and its tables) out of the bundle.
fn stored_race(key: &str) -> Option<crate::choice::Race> {
    let storage = local_storage()?;
    let get_item: Function = get(&storage, "getItem").dyn_into().ok()?;
    let text = get_item.call1(&storage, &key.into()).ok()?.as_string()?;
    let mut parts = text.split(' ').map(str::parse::<u64>);
    let (Some(Ok(cpu_us)), Some(Ok(gpu_us)), Some(Ok(runs))) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    Some(crate::choice::Race { cpu_ms: cpu_us as f64 / 1e3, gpu_ms: gpu_us as f64 / 1e3, runs: runs as usize })
}

fn store_race(key: &str, race: &crate::choice::Race) {
    let Some(storage) = local_storage() else { return };
    if let Ok(set_item) = get(&storage, "setItem").dyn_into::<Function>() {
        let micros = |ms: f64| (ms * 1e3).round() as u64;
        let value = format!("{} {} {}", micros(race.cpu_ms), micros(race.gpu_ms), race.runs);
        let _ = set_item.call2(&storage, &key.into(), &value.into());
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
/// are; A packed per call, as activations are). Returns GFLOP/s. A test hook of the benchmark pages, in builds
/// with the `testing` feature only.
#[cfg(feature = "testing")]
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
