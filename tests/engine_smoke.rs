use webinfer::json::{Attr, DType, Dim, Graph, ModelJson, Node, ValueInfo, FORMAT};
use webinfer::weights::{encode_weights, WeightToWrite};
use webinfer::Tensor;

fn dense_relu() -> webinfer::Model {
    let w = Tensor::f32(vec![3, 2], vec![1.0, -1.0, 2.0, 0.5, -3.0, 1.0]);
    let b = Tensor::f32(vec![2], vec![0.5, -0.25]);
    let enc = encode_weights(
        &[
            WeightToWrite { name: "w", tensor: &w, quantize: None },
            WeightToWrite { name: "b", tensor: &b, quantize: None },
        ],
        16,
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
    webinfer::model_from_bytes(&model.to_json(), &enc.shards).unwrap()
}

fn batch_two() -> Tensor {
    Tensor::f32(vec![2, 3], vec![1.0, 2.0, 3.0, -1.0, 0.0, 1.0])
}

#[test]
fn dense_relu_batch_two() {
    let out = dense_relu().predict(&[batch_two()]).unwrap();
    assert_eq!(out[0].to_f32s(), vec![0.0, 2.75, 0.0, 1.75]);
}

/// The same model on the WebGPU backend; without an adapter (no Vulkan driver) it says it skipped, unless
/// `WEBINFER_EXPECT_WEBGPU=1` (as `make test` sets). The full GPU suite is crates/backend-tests.
#[cfg(all(feature = "webgpu", not(target_arch = "wasm32")))]
#[test]
fn dense_relu_batch_two_on_webgpu() {
    let gpu = match pollster::block_on(webinfer::gpu::Gpu::request()) {
        Ok(gpu) => std::rc::Rc::new(gpu),
        Err(e) if std::env::var("WEBINFER_EXPECT_WEBGPU").is_ok_and(|v| v == "1") => {
            panic!("WEBINFER_EXPECT_WEBGPU=1 but no WebGPU adapter: {e}")
        }
        Err(e) => {
            let line = format!("dense_relu_batch_two_on_webgpu: skipped, no WebGPU adapter ({e})\n");
            std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes()).unwrap();
            return;
        }
    };
    let model = webinfer::gpu::GpuModel::new(gpu, dense_relu());
    let out = pollster::block_on(model.predict(&[batch_two()])).unwrap();
    let got = out[0].to_f32s();
    for (g, w) in got.iter().zip([0.0, 2.75, 0.0, 1.75]) {
        assert!((g - w).abs() < 1e-6, "{got:?}");
    }
}
