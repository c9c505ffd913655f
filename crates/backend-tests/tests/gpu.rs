//! The WebGPU backend natively (Vulkan; lavapipe on CI): the MNIST models agree with onnxruntime and
//! with the CPU backend, batches and plans behave, and device loss is reported rather than fatal.
//! Nothing here is timed: lavapipe is a correctness device. Without an adapter each test says it skipped.
#![cfg(feature = "webgpu")]

use std::path::PathBuf;
use std::rc::Rc;

use webinfer::gpu::{Gpu, GpuModel};
use webinfer::Tensor;
use webinfer_converter::{convert_path, npy, ConvertOptions};

fn fixtures() -> PathBuf {
    webinfer_backend_tests::root().join("tests/fixtures/mnist")
}

fn heldout(n: usize) -> Tensor {
    let milli = npy::read(&fixtures().join("heldout_x_milli.npy")).unwrap().to_i64s();
    Tensor::f32(vec![n, 28, 28, 1], milli[..n * 784].iter().map(|&v| (v as f64 / 1000.0) as f32).collect())
}

fn gpu(test: &str) -> Option<Rc<Gpu>> {
    webinfer_backend_tests::webgpu(test)
}

fn models(name: &str) -> (webinfer::Model, webinfer::Model) {
    let c = convert_path(&fixtures().join(format!("mnist_{name}.onnx")), &ConvertOptions::default()).unwrap();
    let json = c.model.to_json();
    (webinfer::model_from_bytes(&json, &c.shards).unwrap(), webinfer::model_from_bytes(&json, &c.shards).unwrap())
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn mnist_models_match_onnxruntime_and_the_cpu_backend() {
    let Some(gpu) = gpu("mnist models") else { return };
    let x = heldout(64);
    for name in ["mlp", "cnn"] {
        let (mut cpu, for_gpu) = models(name);
        let model = GpuModel::new(Rc::clone(&gpu), for_gpu);
        let got = pollster::block_on(model.predict(std::slice::from_ref(&x))).unwrap().remove(0);
        assert_eq!(got.shape, vec![64, 10]);
        let got = got.to_f32s();
        let ort = npy::read(&fixtures().join(format!("{name}_ort_first64.npy"))).unwrap().to_f32s();
        let d = max_diff(&got, &ort);
        assert!(d <= 1e-4, "{name}: max |webgpu - onnxruntime| = {d:e}");
        let want = cpu.predict(std::slice::from_ref(&x)).unwrap().remove(0).to_f32s();
        let d = max_diff(&got, &want);
        assert!(d <= 1e-4, "{name}: max |webgpu - cpu| = {d:e}");
        let one = Tensor::f32(vec![1, 28, 28, 1], x.to_f32s()[784 * 5..784 * 6].to_vec());
        let got = pollster::block_on(model.predict(&[one])).unwrap().remove(0).to_f32s();
        let d = max_diff(&got, &want[50..60]);
        assert!(d <= 1e-4, "{name} batch 1: max |webgpu - cpu| = {d:e}");
    }
}

#[test]
fn float16_weights_give_the_same_digits_on_the_gpu() {
    let Some(gpu) = gpu("float16 weights") else { return };
    let dir = fixtures().join("converted/cnn-f16");
    let cpu_model = webinfer::load_dir(&dir).unwrap();
    let mut cpu = webinfer::load_dir(&dir).unwrap();
    let model = GpuModel::new(gpu, cpu_model);
    let x = heldout(16);
    let got = pollster::block_on(model.predict(std::slice::from_ref(&x))).unwrap().remove(0).to_f32s();
    let want = cpu.predict(&[x]).unwrap().remove(0).to_f32s();
    let d = max_diff(&got, &want);
    assert!(d <= 1e-4, "max |webgpu - cpu| = {d:e}");
}

#[test]
fn every_kernel_compiles() {
    let Some(gpu) = gpu("shader compilation") else { return };
    assert!(pollster::block_on(gpu.compile_all_shaders()).unwrap() >= 17);
}

#[test]
fn a_lost_device_is_reported_not_fatal() {
    let Some(gpu) = gpu("device loss") else { return };
    let (_, for_gpu) = models("mlp");
    let model = GpuModel::new(Rc::clone(&gpu), for_gpu);
    pollster::block_on(model.warm_up()).unwrap();
    gpu.simulate_loss();
    let err = pollster::block_on(model.predict(&[heldout(1)])).unwrap_err();
    assert!(matches!(err, webinfer::Error::DeviceLost(_)), "{err}");
    assert!(gpu.is_lost());
}

#[test]
fn profiles_time_the_same_nodes_on_both_backends_and_leave_predictions_intact() {
    let Some(gpu) = gpu("profile") else { return };
    let (mut cpu, for_gpu) = models("cnn");
    let model = GpuModel::new(Rc::clone(&gpu), for_gpu);
    let x = heldout(2);
    let start = std::time::Instant::now();
    let clock = move || start.elapsed().as_secs_f64() * 1e3;
    let (outputs, on_cpu) = cpu.profile(std::slice::from_ref(&x), &clock).unwrap();
    let (on_gpu, timestamps) = pollster::block_on(model.profile(std::slice::from_ref(&x), &clock)).unwrap();
    webinfer_backend_tests::say(&format!(
        "profile: {} ({}), {:.3} ms in {} nodes",
        gpu.adapter(),
        if timestamps { "GPU timestamps" } else { "per-dispatch wall time" },
        on_gpu.iter().map(|r| r.ms).sum::<f64>(),
        on_gpu.len()
    ));
    assert!(on_gpu.iter().all(|r| r.ms >= 0.0 && r.ms.is_finite()));
    assert!(on_gpu.iter().filter(|r| r.op == "Conv").all(|r| r.ms > 0.0), "every conv took time");
    let rows = |t: &[webinfer::OpTiming]| {
        t.iter().map(|r| (r.op.clone(), r.node.clone(), r.shape.clone())).collect::<Vec<_>>()
    };
    assert_eq!(rows(&on_gpu), rows(&on_cpu));
    assert!(on_cpu.iter().any(|r| r.op == "Conv") && on_cpu.iter().all(|r| r.ms >= 0.0));
    assert_eq!(on_cpu.last().unwrap().shape, vec![2, 10]);
    let got = pollster::block_on(model.predict(std::slice::from_ref(&x))).unwrap().remove(0).to_f32s();
    let d = max_diff(&got, &outputs[0].to_f32s());
    assert!(d <= 1e-4, "a prediction after profiling: max |webgpu - cpu| = {d:e}");
}
