use webinfer::json::{Attr, DType, Dim, Graph, ModelJson, Node, ValueInfo, FORMAT};
use webinfer::weights::{encode_weights, WeightToWrite};
use webinfer::Tensor;

#[test]
fn dense_relu_batch_two() {
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
    let mut m = webinfer::model_from_bytes(&model.to_json(), &enc.shards).unwrap();
    let out = m.predict(&[Tensor::f32(vec![2, 3], vec![1.0, 2.0, 3.0, -1.0, 0.0, 1.0])]).unwrap();
    assert_eq!(out[0].to_f32s(), vec![0.0, 2.75, 0.0, 1.75]);
}
