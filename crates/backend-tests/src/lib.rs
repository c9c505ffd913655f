//! One op suite for every backend, the way burn's backend tests and tract's test-rt work: the suites in
//! `tests/` (the ONNX backend node tests, the targeted op cases, the MNIST models) run a model on each backend
//! this crate's features select (`cpu`, `webgpu`) and compare it with the references.
//!
//! The WebGPU backend runs natively through Vulkan (lavapipe on CI). Where no adapter exists its suites say
//! that they skipped and pass, unless `WEBINFER_EXPECT_WEBGPU=1` (as `make test` sets) turns a missing adapter
//! into a failure.

use std::path::{Path, PathBuf};
#[cfg(feature = "webgpu")]
use std::rc::Rc;

use webinfer::{Error, Model, Tensor};

/// The repository root (fixtures live under `tests/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where a case runs.
#[derive(Clone)]
pub enum Backend {
    /// The SIMD CPU backend.
    Cpu,
    /// The WebGPU backend on a native adapter.
    #[cfg(feature = "webgpu")]
    WebGpu(Rc<webinfer::gpu::Gpu>),
}

impl Backend {
    /// The backend's name in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            #[cfg(feature = "webgpu")]
            Backend::WebGpu(_) => "webgpu",
        }
    }

    /// Runs `model` on this backend with inputs in graph-input order.
    pub fn run(&self, model: Model, inputs: &[Tensor]) -> Result<Vec<Tensor>, Error> {
        match self {
            Backend::Cpu => {
                let mut model = model;
                model.predict(inputs)
            }
            #[cfg(feature = "webgpu")]
            Backend::WebGpu(gpu) => {
                pollster::block_on(webinfer::gpu::GpuModel::new(Rc::clone(gpu), model).predict(inputs))
            }
        }
    }
}

/// The CPU backend, when the `cpu` feature selects it.
pub fn cpu() -> Option<Backend> {
    cfg!(feature = "cpu").then_some(Backend::Cpu)
}

/// Whether a missing WebGPU adapter must fail the suite (`WEBINFER_EXPECT_WEBGPU=1`).
fn webgpu_required() -> bool {
    std::env::var("WEBINFER_EXPECT_WEBGPU").is_ok_and(|v| v == "1")
}

/// A native WebGPU adapter, or None (after saying the suite `suite` skipped) where no adapter exists.
#[cfg(feature = "webgpu")]
pub fn webgpu(suite: &str) -> Option<Rc<webinfer::gpu::Gpu>> {
    match pollster::block_on(webinfer::gpu::Gpu::request()) {
        Ok(gpu) => Some(Rc::new(gpu)),
        Err(e) if webgpu_required() => panic!("WEBINFER_EXPECT_WEBGPU=1 but no WebGPU adapter: {e}"),
        Err(e) => {
            say(&format!("{suite} on webgpu: skipped, no adapter ({e}); make bootstrap installs lavapipe"));
            None
        }
    }
}

/// The WebGPU backend, or None (after saying the suite `suite` skipped) where the `webgpu` feature is off or no
/// adapter exists.
pub fn webgpu_backend(suite: &str) -> Option<Backend> {
    #[cfg(feature = "webgpu")]
    return webgpu(suite).map(Backend::WebGpu);
    #[cfg(not(feature = "webgpu"))]
    {
        assert!(!webgpu_required(), "WEBINFER_EXPECT_WEBGPU=1 but this build has no `webgpu` feature");
        say(&format!("{suite} on webgpu: skipped, the `webgpu` feature is off"));
        None
    }
}

/// Writes a line to stderr past the test harness's capture, so a skip shows in every run's log.
pub fn say(line: &str) {
    let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{line}\n").as_bytes());
}

/// Every selected backend that can run here.
pub fn backends(suite: &str) -> Vec<Backend> {
    cpu().into_iter().chain(webgpu_backend(suite)).collect()
}
