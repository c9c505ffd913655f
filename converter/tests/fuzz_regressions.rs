//! Every input a fuzz target found (fuzz/regressions/<target>/), replayed through the same entry point: each must
//! now return an error that names what is wrong, without panicking. And each entry accepts the real file it is
//! seeded from, so a target that rejects everything (and so fuzzes nothing) fails here too.

use std::path::{Path, PathBuf};

use webinfer_converter::fuzzing::{self, TARGETS};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn every_committed_fuzz_finding_returns_an_error_instead_of_crashing() {
    let mut replayed = 0;
    for (target, entry) in TARGETS {
        let dir = root().join("fuzz/regressions").join(target);
        let Ok(files) = std::fs::read_dir(&dir) else { continue };
        for file in files {
            let path = file.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| entry(&bytes));
            match outcome {
                Ok(Err(message)) => assert!(!message.trim().is_empty(), "{}: empty error", path.display()),
                Ok(Ok(())) => {}
                Err(_) => panic!("{target}: {} panics", path.display()),
            }
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no fuzz/regressions inputs found under {}", root().display());
}

fn packed(dir: &str) -> Vec<u8> {
    let dir = root().join(dir);
    let text = std::fs::read_to_string(dir.join("model.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut bytes = text.into_bytes();
    bytes.push(0);
    for group in doc["weightsManifest"].as_array().unwrap() {
        for path in group["paths"].as_array().unwrap() {
            bytes.extend(std::fs::read(dir.join(path.as_str().unwrap())).unwrap());
        }
    }
    bytes
}

#[test]
fn each_fuzz_entry_accepts_the_real_files_it_is_seeded_from() {
    let read = |p: &str| std::fs::read(root().join(p)).unwrap();
    fuzzing::onnx(&read("tests/fixtures/onnx/convnet.onnx")).unwrap();
    fuzzing::npy(&read("tests/fixtures/onnx/convnet_input_b1.npy")).unwrap();
    for dir in
        ["tests/fixtures/interop/residual/tfjs_graph_uint8", "tests/fixtures/interop/seq_cnn/tfjs_layers_float16"]
    {
        fuzzing::tfjs(&packed(dir)).unwrap();
        fuzzing::shards(&packed(dir)).unwrap();
    }
    fuzzing::model_json(&packed("tests/fixtures/mnist/converted/cnn-f16")).unwrap();
    let keras = fuzzing::keras_zip(&read("tests/fixtures/interop/mlp/model.keras")).unwrap_err();
    assert!(keras.contains("weight"), "{keras}");
}
