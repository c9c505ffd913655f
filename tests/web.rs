//! Browser tests (wasm-bindgen-test): run in headless Chromium and Firefox by `make test`.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Float32Array, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use webinfer::format::{Attr, DType, Dim, Graph, ModelJson, Node, ValueInfo, FORMAT};
use webinfer::weights::{encode_weights, WeightToWrite};
use webinfer::Tensor;

wasm_bindgen_test_configure!(run_in_browser);

/// y = relu(x · W + b) with x: [batch, 3], W: [3, 2].
fn tiny_dense() -> (String, Vec<Vec<u8>>) {
    let w = Tensor::f32(vec![3, 2], vec![1.0, -1.0, 2.0, 0.5, -3.0, 1.0]);
    let b = Tensor::f32(vec![2], vec![0.5, -0.25]);
    let enc = encode_weights(
        &[WeightToWrite { name: "w", tensor: &w, quantize: None }, WeightToWrite { name: "b", tensor: &b, quantize: None }],
        16,
        "group1",
    );
    let model = ModelJson {
        format: FORMAT.into(),
        generated_by: None,
        converted_by: None,
        graph: Graph {
            inputs: vec![ValueInfo { name: "x".into(), dtype: DType::Float32, shape: vec![Dim::Symbol("batch".into()), Dim::Fixed(3)] }],
            outputs: vec![ValueInfo { name: "y".into(), dtype: DType::Float32, shape: vec![Dim::Symbol("batch".into()), Dim::Fixed(2)] }],
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

#[wasm_bindgen_test]
fn version_string_reaches_js() {
    assert_eq!(webinfer::js::version(), env!("CARGO_PKG_VERSION"));
}

#[wasm_bindgen_test]
async fn js_api_runs_a_dense_layer_with_batch_two() {
    let (json, shards) = tiny_dense();
    let js_shards: Array = shards.iter().map(|s| JsValue::from(Uint8Array::from(&s[..]))).collect();
    let mut model = webinfer::js::Model::from_bytes(JsValue::from_str(&json), js_shards, None).unwrap();
    assert_eq!(model.backend(), "cpu");
    let x = Float32Array::from(&[1.0f32, 2.0, 3.0, -1.0, 0.0, 1.0][..]);
    let promise = model.predict(x.into(), JsValue::UNDEFINED);
    let out = wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
    let data = Float32Array::new(&Reflect::get(&out, &"data".into()).unwrap()).to_vec();
    let shape: Vec<f64> = Array::from(&Reflect::get(&out, &"shape".into()).unwrap()).iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(shape, vec![2.0, 2.0]);
    // row 1: [1+4-9+0.5, -1+1+3-0.25] = [-3.5, 2.75] -> relu; row 2: [-1-3+0.5, 1+1-0.25]
    assert_eq!(data, vec![0.0, 2.75, 0.0, 1.75]);
}

#[wasm_bindgen_test]
fn corrupted_shard_is_rejected_by_name() {
    let (json, mut shards) = tiny_dense();
    shards[0][0] ^= 0xff;
    let js_shards: Array = shards.iter().map(|s| JsValue::from(Uint8Array::from(&s[..]))).collect();
    let err = webinfer::js::Model::from_bytes(JsValue::from_str(&json), js_shards, None).err().unwrap();
    let msg = String::from(err.dyn_into::<js_sys::Error>().unwrap().message());
    assert!(msg.contains("sha256 mismatch") && msg.contains("group1-shard1of"), "{msg}");
}

#[wasm_bindgen_test]
fn wrong_input_length_names_expected_shape() {
    let (json, shards) = tiny_dense();
    let js_shards: Array = shards.iter().map(|s| JsValue::from(Uint8Array::from(&s[..]))).collect();
    let mut model = webinfer::js::Model::from_bytes(JsValue::from_str(&json), js_shards, None).unwrap();
    let err = model.predict_sync(&Float32Array::from(&[1.0f32, 2.0][..]).into(), &JsValue::UNDEFINED).err().unwrap();
    let msg = String::from(err.dyn_into::<js_sys::Error>().unwrap().message());
    assert!(msg.contains("\"x\"") && msg.contains("batch, 3"), "{msg}");
}
