//! The WebGPU backend: the engine's per-shape plans executed as WGSL compute shaders through wgpu
//! (the browser's WebGPU on wasm, Vulkan natively). Pipelines, buffers and weights are created when a
//! plan is built; a prediction is one command encoder, one submit and one asynchronous readback.

//!
//! Each op family has its WGSL (`elementwise.wgsl`) and, beside it, its Rust encoders and typed
//! parameter structs (`elementwise.rs`); `plan.rs` turns a plan into dispatches, one line per kernel.

mod codes;
mod conv;
mod elementwise;
mod gemm;
mod layout;
mod norm;
mod params;
mod plan;
mod pool;
mod reduce;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use wgpu::util::DeviceExt;

use crate::Error;

pub use plan::{GpuModel, PendingPrediction};

/// A kernel file as shipped: `build.rs` strips its comments and indentation.
macro_rules! shipped_wgsl {
    ($file:literal) => {
        include_str!(concat!(env!("OUT_DIR"), "/", $file))
    };
}

/// The WGSL files, each compiled with the generated op codes and `common.wgsl` in front.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Shader {
    Elementwise,
    Layout,
    Gemm,
    Conv,
    Pool,
    Norm,
    Reduce,
}

impl Shader {
    /// The WGSL compiled for this shader: the generated op-code constants, `common.wgsl`, the family file.
    fn source(self) -> String {
        let family = match self {
            Shader::Elementwise => shipped_wgsl!("elementwise.wgsl"),
            Shader::Layout => shipped_wgsl!("layout.wgsl"),
            Shader::Gemm => shipped_wgsl!("gemm.wgsl"),
            Shader::Conv => shipped_wgsl!("conv.wgsl"),
            Shader::Pool => shipped_wgsl!("pool.wgsl"),
            Shader::Norm => shipped_wgsl!("norm.wgsl"),
            Shader::Reduce => shipped_wgsl!("reduce.wgsl"),
        };
        [codes::prelude().as_str(), shipped_wgsl!("common.wgsl"), family].concat()
    }

    /// Bindings after the parameters (0: the entry point's params struct) and output (1): (binding, writable).
    fn extra_bindings(self) -> &'static [(u32, bool)] {
        match self {
            Shader::Elementwise => &[(2, false), (3, false), (4, false), (5, false), (6, false)],
            Shader::Norm => &[(2, false), (3, false), (4, false), (5, true), (6, true)],
            Shader::Pool => &[(2, false)],
            Shader::Layout | Shader::Gemm | Shader::Conv | Shader::Reduce => &[(2, false), (3, false), (4, false)],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PipelineKey {
    shader: Shader,
    entry: &'static str,
    constants: Vec<(&'static str, u64)>,
}

/// What the device has reported: loss, or the first validation/out-of-memory error.
#[derive(Default)]
struct DeviceStatus {
    lost: AtomicBool,
    message: Mutex<Option<String>>,
}

impl DeviceStatus {
    fn record(&self, msg: String) {
        let mut slot = self.message.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(msg);
    }
}

/// A wgpu device with its compiled shaders and pipelines.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: String,
    software: Option<String>,
    modules: RefCell<HashMap<Shader, wgpu::ShaderModule>>,
    layouts: RefCell<HashMap<Shader, (wgpu::BindGroupLayout, wgpu::PipelineLayout)>>,
    pipelines: RefCell<HashMap<PipelineKey, wgpu::ComputePipeline>>,
    /// Stand-ins for unused bindings: one read-only, two writable.
    placeholders: [wgpu::Buffer; 3],
    status: Arc<DeviceStatus>,
}

impl Gpu {
    /// Finds an adapter and opens a device. Fails with a clear error where there is no WebGPU/Vulkan.
    pub async fn request() -> Result<Gpu, Error> {
        #[cfg(target_arch = "wasm32")]
        let desc = wgpu::InstanceDescriptor::new_without_display_handle();
        #[cfg(not(target_arch = "wasm32"))]
        let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        let instance = wgpu::Instance::new(desc);
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("no WebGPU adapter is available: {e}")))?;
        let info = adapter.get_info();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("webinfer"),
                required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
                required_limits: adapter.limits(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("the WebGPU adapter {:?} refused a device: {e}", info.name)))?;
        let status = Arc::new(DeviceStatus::default());
        {
            let status = Arc::clone(&status);
            device.set_device_lost_callback(move |reason, msg| {
                status.lost.store(true, Ordering::SeqCst);
                status.record(format!("the GPU device was lost ({reason:?}): {msg}"));
            });
        }
        {
            let status = Arc::clone(&status);
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| status.record(format!("GPU error: {e}"))));
        }
        let placeholder = |label| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 16,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        };
        let placeholders =
            [placeholder("unused input"), placeholder("unused output a"), placeholder("unused output b")];
        let backend = format!("{:?}", info.backend).to_ascii_lowercase();
        let adapter = if info.name.is_empty() { backend } else { format!("{} ({backend})", info.name) };
        let software = crate::choice::software_renderer(
            Some(info.device_type == wgpu::DeviceType::Cpu),
            &[&info.name, &info.driver, &info.driver_info],
        );
        Ok(Gpu {
            device,
            queue,
            adapter,
            software,
            modules: RefCell::default(),
            layouts: RefCell::default(),
            pipelines: RefCell::default(),
            placeholders,
            status,
        })
    }

    /// Whether the device has GPU timestamp queries (the profiler then times each node on the GPU itself).
    pub fn has_timestamps(&self) -> bool {
        self.device.features().contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// The adapter's name and API.
    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// Why this adapter is a software renderer (lavapipe, SwiftShader, …), or `None` for real hardware; `auto`
    /// treats a software adapter as no GPU (see [`crate::choice`]).
    pub fn software(&self) -> Option<&str> {
        self.software.as_deref()
    }

    /// Whether the device has been lost.
    pub fn is_lost(&self) -> bool {
        self.status.lost.load(Ordering::SeqCst)
    }

    /// Destroys the device, as a driver reset or GPU crash would (for testing recovery).
    pub fn simulate_loss(&self) {
        self.device.destroy();
    }

    /// Compiles every kernel entry point once, in error scopes, and fails naming the first entry the
    /// platform's shader compiler rejects (wgpu's naga natively, the browser's compiler on the web).
    /// Returns how many entry points compiled.
    pub async fn compile_all_shaders(&self) -> Result<usize, Error> {
        const ENTRIES: &[(Shader, &str)] = &[
            (Shader::Elementwise, "unary"),
            (Shader::Elementwise, "binary"),
            (Shader::Elementwise, "where_select"),
            (Shader::Elementwise, "channel_affine"),
            (Shader::Elementwise, "batchnorm"),
            (Shader::Elementwise, "clip"),
            (Shader::Layout, "gather"),
            (Shader::Layout, "copy_block"),
            (Shader::Layout, "add_gathered"),
            (Shader::Gemm, "gemm"),
            (Shader::Conv, "depthwise"),
            (Shader::Conv, "conv_transpose"),
            (Shader::Pool, "pool"),
            (Shader::Pool, "global_pool"),
            (Shader::Norm, "softmax"),
            (Shader::Norm, "normalize"),
            (Shader::Reduce, "reduce"),
            (Shader::Reduce, "arg_reduce"),
        ];
        for &(shader, entry) in ENTRIES {
            let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
            self.pipeline(PipelineKey { shader, entry, constants: Vec::new() });
            if let Some(e) = scope.pop().await {
                return Err(Error::Gpu(format!("shader entry point {entry}: {e}")));
            }
        }
        Ok(ENTRIES.len())
    }

    /// Fails with what the device reported, if it reported anything.
    fn check(&self) -> Result<(), Error> {
        let slot = self.status.message.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some(msg) => Err(if self.is_lost() { Error::DeviceLost(msg.clone()) } else { Error::Gpu(msg.clone()) }),
            None if self.is_lost() => Err(Error::DeviceLost("the GPU device was lost".into())),
            None => Ok(()),
        }
    }

    fn layout(&self, shader: Shader) -> (wgpu::BindGroupLayout, wgpu::PipelineLayout) {
        self.layouts
            .borrow_mut()
            .entry(shader)
            .or_insert_with(|| {
                let storage = |binding, read_only| wgpu::BindGroupLayoutEntry {
                    binding,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage { read_only },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                };
                let mut entries = vec![storage(0, true), storage(1, false)];
                entries.extend(shader.extra_bindings().iter().map(|&(b, writable)| storage(b, !writable)));
                let bind = self
                    .device
                    .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: None, entries: &entries });
                let pipeline = self.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: None,
                    bind_group_layouts: &[Some(&bind)],
                    immediate_size: 0,
                });
                (bind, pipeline)
            })
            .clone()
    }

    fn pipeline(&self, key: PipelineKey) -> wgpu::ComputePipeline {
        if let Some(p) = self.pipelines.borrow().get(&key) {
            return p.clone();
        }
        let module = self
            .modules
            .borrow_mut()
            .entry(key.shader)
            .or_insert_with(|| {
                self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(key.entry),
                    source: wgpu::ShaderSource::Wgsl(key.shader.source().into()),
                })
            })
            .clone();
        let (_, layout) = self.layout(key.shader);
        let constants: Vec<(&str, f64)> =
            key.constants.iter().map(|&(name, bits)| (name, f64::from_bits(bits))).collect();
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(key.entry),
            layout: Some(&layout),
            module: &module,
            entry_point: Some(key.entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        self.pipelines.borrow_mut().insert(key, pipeline.clone());
        pipeline
    }

    fn upload(&self, label: &str, bytes: &[u8], usage: wgpu::BufferUsages) -> wgpu::Buffer {
        if bytes.len() < 16 {
            let mut padded = bytes.to_vec();
            padded.resize(16, 0);
            return self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: &padded,
                usage,
            });
        }
        self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some(label), contents: bytes, usage })
    }

    fn upload_f32(&self, label: &str, values: &[f32]) -> wgpu::Buffer {
        self.upload(
            label,
            &f32_bytes(values),
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        )
    }

    /// Queues `values` into the start of `buffer`.
    fn write_f32(&self, buffer: &wgpu::Buffer, values: &[f32]) {
        if !values.is_empty() {
            self.queue.write_buffer(buffer, 0, &f32_bytes(values));
        }
    }

    fn upload_u32(&self, label: &str, values: &[u32]) -> wgpu::Buffer {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.upload(label, &bytes, wgpu::BufferUsages::STORAGE)
    }

    fn storage(&self, label: &str, floats: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (floats as u64 * 4).max(16),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        })
    }
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Reads f32 values out of mapped bytes.
fn floats_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}
