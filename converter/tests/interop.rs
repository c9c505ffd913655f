//! TensorFlow interop (tools/make_interop_fixtures.py, committed fixtures): TF.js graph and layers models
//! loaded directly, and Keras/SavedModel/TF.js files converted, each against real TF.js (same dequantized
//! weights) and against Keras, within 1e-5.

use std::path::{Path, PathBuf};

use webinfer::Tensor;
use webinfer_converter::{convert_path, npy, ConvertOptions};

const MODELS: [&str; 3] = ["mlp", "residual", "seq_cnn"];
const QUANTIZATIONS: [&str; 3] = ["none", "float16", "uint8"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/interop")
}

fn inputs(model: &str) -> Vec<Tensor> {
    (0..)
        .map(|i| fixtures().join(model).join(format!("input{i}.npy")))
        .take_while(|p| p.exists())
        .map(|p| npy::read(&p).unwrap())
        .collect()
}

fn keras_output(model: &str) -> Vec<f32> {
    npy::read(&fixtures().join(model).join("keras_output.npy")).unwrap().to_f32s()
}

fn tfjs_output(dir: &Path) -> Vec<f32> {
    let text =
        std::fs::read_to_string(dir.join("tfjs_output.json")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "output lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn run(model: &mut webinfer::Model, xs: &[Tensor]) -> Vec<f32> {
    model.predict(xs).unwrap().remove(0).to_f32s()
}

fn check(what: &str, got: &[f32], want: &[f32], against: &str) {
    let d = max_diff(got, want);
    println!("{what}: max |ours - {against}| = {d:e}");
    assert!(d <= 1e-5, "{what}: max |ours - {against}| = {d:e} > 1e-5");
}

#[test]
fn tfjs_graph_models_match_tfjs_and_keras() {
    for m in MODELS {
        let xs = inputs(m);
        for q in QUANTIZATIONS.iter().chain(&["uint16"]) {
            let dir = fixtures().join(m).join(format!("tfjs_graph_{q}"));
            let mut model = webinfer::load_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let got = run(&mut model, &xs);
            check(&format!("{m}/tfjs_graph_{q}"), &got, &tfjs_output(&dir), "TF.js");
            if *q == "none" {
                check(&format!("{m}/tfjs_graph_{q}"), &got, &keras_output(m), "Keras");
            }
        }
    }
}

#[test]
fn tfjs_layers_models_keras2_and_keras3_styles_match_tfjs_and_keras() {
    for m in MODELS {
        let xs = inputs(m);
        for q in QUANTIZATIONS {
            let twin = fixtures().join(m).join(format!("tfjs_layers_{q}"));
            for style in ["tfjs_layers", "tfjs_layers3"] {
                let dir = fixtures().join(m).join(format!("{style}_{q}"));
                let mut model = webinfer::load_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
                let got = run(&mut model, &xs);
                check(&format!("{m}/{style}_{q}"), &got, &tfjs_output(&twin), "TF.js");
                if q == "none" {
                    check(&format!("{m}/{style}_{q}"), &got, &keras_output(m), "Keras");
                }
            }
        }
    }
}

#[test]
fn several_shards_and_groups_are_read() {
    let json = std::fs::read_to_string(fixtures().join("residual/tfjs_layers3_uint8/model.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(doc["weightsManifest"].as_array().unwrap().len() > 3, "split_weights_by_layer gives one group per layer");
    let json = std::fs::read_to_string(fixtures().join("seq_cnn/tfjs_graph_none/model.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(doc["weightsManifest"][0]["paths"].as_array().unwrap().len() > 1, "4 KB shards give several");
}

#[test]
fn converting_tfjs_dirs_keeps_outputs() {
    for m in MODELS {
        let xs = inputs(m);
        for sub in ["tfjs_graph_uint8", "tfjs_layers3_float16"] {
            let dir = fixtures().join(m).join(sub);
            let c = convert_path(&dir, &ConvertOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let mut model = webinfer::model_from_bytes(&c.model.to_json(), &c.shards).unwrap();
            let twin = if sub.starts_with("tfjs_layers") {
                fixtures().join(m).join("tfjs_layers_float16")
            } else {
                dir.clone()
            };
            check(&format!("{m}/{sub} converted"), &run(&mut model, &xs), &tfjs_output(&twin), "TF.js");
        }
    }
}

#[test]
fn keras_files_and_saved_models_convert_and_match_keras() {
    for m in MODELS {
        let xs = inputs(m);
        for file in [
            "model.keras",
            "model_keras3.h5",
            "model_tfkeras.h5",
            "saved_export",
            "saved_tf",
            "saved_book/0001",
            "saved_module",
        ] {
            let path = fixtures().join(m).join(file);
            let c =
                convert_path(&path, &ConvertOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let mut model = webinfer::model_from_bytes(&c.model.to_json(), &c.shards).unwrap();
            check(&format!("{m}/{file}"), &run(&mut model, &xs), &keras_output(m), "Keras");
        }
    }
}

#[test]
fn saved_model_signatures_are_chosen_by_name_and_a_missing_one_lists_the_others() {
    for m in MODELS {
        let xs = inputs(m);
        let path = fixtures().join(m).join("saved_module");
        let options = ConvertOptions { signature: Some("percent".into()), ..ConvertOptions::default() };
        let c = convert_path(&path, &options).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(c.model.graph.outputs[0].name, "percent");
        let mut model = webinfer::model_from_bytes(&c.model.to_json(), &c.shards).unwrap();
        let want = npy::read(&fixtures().join(m).join("keras_output_percent.npy")).unwrap().to_f32s();
        let got: Vec<f32> = run(&mut model, &xs).iter().map(|v| v / 100.0).collect();
        check(
            &format!("{m}/saved_module --signature percent"),
            &got,
            &want.iter().map(|v| v / 100.0).collect::<Vec<_>>(),
            "Keras",
        );

        let default = convert_path(&path, &ConvertOptions::default()).unwrap();
        assert_eq!(default.model.graph.outputs[0].name, "probs", "serving_default is taken when no signature is named");
    }
    let options = ConvertOptions { signature: Some("logits".into()), ..ConvertOptions::default() };
    let err = convert_path(&fixtures().join("mlp/saved_module"), &options)
        .err()
        .expect("a missing signature must fail")
        .to_string();
    assert!(err.contains("\"logits\"") && err.contains("percent, serving_default"), "{err}");
    let err = convert_path(&fixtures().join("mlp/model.keras"), &options)
        .err()
        .expect("--signature on a .keras must fail")
        .to_string();
    assert!(err.contains("SavedModels only"), "{err}");
}

#[test]
fn an_unsupported_op_in_a_saved_model_is_named_with_its_node() {
    use prost::Message;
    use webinfer_converter::saved_model::pb;
    let src = fixtures().join("seq_cnn/saved_module");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("variables")).unwrap();
    for entry in std::fs::read_dir(src.join("variables")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, tmp.path().join("variables").join(p.file_name().unwrap())).unwrap();
    }
    let mut saved = pb::SavedModel::decode(std::fs::read(src.join("saved_model.pb")).unwrap().as_slice()).unwrap();
    let library = saved.meta_graphs[0].graph_def.as_mut().unwrap().library.as_mut().unwrap();
    let mut renamed = Vec::new();
    for relu in library.function.iter_mut().flat_map(|f| f.node_def.iter_mut()).filter(|n| n.op == "Relu") {
        relu.op = "Erfinv".into();
        renamed.push(relu.name.clone());
    }
    assert!(!renamed.is_empty(), "the model has a Relu");
    std::fs::write(tmp.path().join("saved_model.pb"), saved.encode_to_vec()).unwrap();
    let err =
        convert_path(tmp.path(), &ConvertOptions::default()).err().expect("an unsupported op must fail").to_string();
    assert!(
        err.contains("\"Erfinv\"") && renamed.iter().any(|n| err.contains(n.as_str())),
        "{err} (renamed {renamed:?})"
    );
}

/// A copy of a fixture directory in a temporary directory, with model.json edited by `edit`.
fn edited_copy(fixture: &str, edit: impl Fn(&mut serde_json::Value)) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join(fixture);
    for entry in std::fs::read_dir(&src).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
    }
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("model.json")).unwrap()).unwrap();
    edit(&mut doc);
    std::fs::write(tmp.path().join("model.json"), doc.to_string()).unwrap();
    tmp
}

#[test]
fn unsupported_ops_and_layers_are_named_with_node_and_file() {
    let graph = edited_copy("residual/tfjs_graph_none", |doc| {
        let nodes = doc["modelTopology"]["node"].as_array_mut().unwrap();
        let relu = nodes.iter_mut().find(|n| n["op"] == "Relu").unwrap();
        relu["op"] = "Erfinv".into();
    });
    let err = webinfer::load_dir(graph.path()).err().expect("an unsupported op must fail").to_string();
    assert!(err.contains("\"Erfinv\"") && err.contains("block_dw_relu") && err.contains("model.json"), "{err}");

    let layers = edited_copy("residual/tfjs_layers3_none", |doc| {
        let layers = doc["modelTopology"]["model_config"]["config"]["layers"].as_array_mut().unwrap();
        let gap = layers.iter_mut().find(|l| l["class_name"] == "GlobalAveragePooling2D").unwrap();
        gap["class_name"] = "GlobalAveragePooling3D".into();
    });
    let err = webinfer::load_dir(layers.path()).err().expect("an unsupported layer must fail").to_string();
    assert!(err.contains("GlobalAveragePooling3D") && err.contains("\"gap\"") && err.contains("model.json"), "{err}");

    let converted =
        convert_path(graph.path(), &ConvertOptions::default()).err().expect("conversion must fail too").to_string();
    assert!(converted.contains("Erfinv"), "{converted}");
}

#[test]
fn quantized_conversion_of_keras_files_is_close_and_smaller() {
    let xs = inputs("seq_cnn");
    let path = fixtures().join("seq_cnn/model.keras");
    let plain = convert_path(&path, &ConvertOptions::default()).unwrap();
    let options =
        ConvertOptions { quantize: Some(webinfer::weights::QuantizeTo::Float16), ..ConvertOptions::default() };
    let half = convert_path(&path, &options).unwrap();
    let size = |c: &webinfer_converter::Converted| c.shards.iter().map(Vec::len).sum::<usize>();
    assert!(size(&half) * 10 < size(&plain) * 6, "float16 shards {} vs float32 {}", size(&half), size(&plain));
    let mut model = webinfer::model_from_bytes(&half.model.to_json(), &half.shards).unwrap();
    let d = max_diff(&run(&mut model, &xs), &keras_output("seq_cnn"));
    assert!(d < 1e-2 && d > 0.0, "float16 weights: max diff {d:e}");
}
