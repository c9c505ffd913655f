//! Inputs at the edges: very deep graphs and graphs that are not graphs (cycles, duplicate outputs).

use prost::Message;
use webinfer::Tensor;
use webinfer_converter::onnx::pb;
use webinfer_converter::{convert_onnx, ConvertOptions};

fn tensor_info(name: &str, dims: &[i64]) -> pb::ValueInfoProto {
    let dim = dims
        .iter()
        .map(|&d| pb::tensor_shape_proto::Dimension {
            value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(d)),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: Some(1),
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, input: &str, output: &str) -> pb::NodeProto {
    pb::NodeProto {
        input: vec![input.into()],
        output: vec![output.into()],
        name: Some(output.into()),
        op_type: Some(op.into()),
        ..Default::default()
    }
}

fn model(nodes: Vec<pb::NodeProto>, output: &str) -> Vec<u8> {
    pb::ModelProto {
        ir_version: Some(8),
        opset_import: vec![pb::OperatorSetIdProto { domain: Some(String::new()), version: Some(17) }],
        graph: Some(pb::GraphProto {
            node: nodes,
            name: Some("chain".into()),
            input: vec![tensor_info("x", &[4])],
            output: vec![tensor_info(output, &[4])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn a_100k_node_chain_converts_and_runs_without_stack_overflow() {
    const N: usize = 100_000;
    let nodes: Vec<pb::NodeProto> = (0..N)
        .map(|i| {
            let input = if i == 0 { "x".to_string() } else { format!("v{}", i - 1) };
            node(if i % 2 == 0 { "Neg" } else { "Sigmoid" }, &input, &format!("v{i}"))
        })
        .collect();
    let out = format!("v{}", N - 1);
    let converted = convert_onnx(model(nodes, &out), "chain.onnx", &ConvertOptions::default()).unwrap();
    assert_eq!(converted.model.graph.nodes.len(), N);
    let json = converted.model.to_json();
    let mut m = webinfer::model_from_bytes(&json, &converted.shards).unwrap();
    let x = [0.5f32, -1.0, 2.0, 0.0];
    let y = m.predict(&[Tensor::f32(vec![4], x.to_vec())]).unwrap();
    let want: Vec<f32> = x
        .iter()
        .map(|&v| {
            let mut v = v;
            for i in 0..N {
                v = if i % 2 == 0 { -v } else { 1.0 / (1.0 + (-v).exp()) };
            }
            v
        })
        .collect();
    for (got, want) in y[0].to_f32s().iter().zip(&want) {
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
}

#[test]
fn cycles_duplicate_outputs_and_undefined_reads_fail_naming_the_node() {
    let convert = |nodes: Vec<pb::NodeProto>, out: &str| {
        convert_onnx(model(nodes, out), "bad.onnx", &ConvertOptions::default()).err().expect("fails").to_string()
    };
    let cycle = convert(vec![node("Relu", "b", "a"), node("Relu", "a", "b")], "b");
    assert!(cycle.contains("\"a\"") && cycle.contains("reads \"b\""), "{cycle}");
    let twice = convert(vec![node("Relu", "x", "y"), node("Neg", "x", "y")], "y");
    assert!(twice.contains("node \"y\" writes \"y\""), "{twice}");
    let undefined = convert(vec![node("Relu", "nowhere", "y")], "y");
    assert!(undefined.contains("reads \"nowhere\""), "{undefined}");
}

#[cfg(feature = "hdf5")]
#[test]
fn a_keras_zip_bomb_stops_at_the_entry_limit() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.keras");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let deflated = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("config.json", deflated).unwrap();
    let block = vec![b' '; 1 << 20];
    for _ in 0..(webinfer_converter::keras_file::MAX_KERAS_JSON_BYTES >> 20) + 8 {
        zip.write_all(&block).unwrap();
    }
    zip.finish().unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() < 1 << 20, "the bomb is small on disk");
    let err = webinfer_converter::convert_path(&path, &ConvertOptions::default()).err().expect("fails").to_string();
    assert!(err.contains("bomb.keras: config.json unpacks to") && err.contains("over the limit of 67108864"), "{err}");
}
