//! The trained MNIST models (tools/train_mnist.py, committed fixtures) through convert → run: outputs vs
//! onnxruntime, held-out accuracy vs Keras, quantized variants; and the committed converted models the
//! browser tests and the demo use must be exactly what the converter writes today.

use std::path::{Path, PathBuf};

use webinfer::Tensor;
use webinfer_converter::{convert_path, npy, write_output, ConvertOptions};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/mnist")
}

/// The held-out digits as float32 NHWC [n, 28, 28, 1] (stored as exact thousandths).
fn heldout(n: usize) -> (Tensor, Vec<usize>) {
    let milli = npy::read(&fixtures().join("heldout_x_milli.npy")).unwrap().to_i64s();
    let labels: Vec<usize> =
        npy::read(&fixtures().join("heldout_y.npy")).unwrap().to_i64s().iter().map(|&v| v as usize).collect();
    let n = n.min(labels.len());
    let x: Vec<f32> = milli[..n * 784].iter().map(|&v| (v as f64 / 1000.0) as f32).collect();
    (Tensor::f32(vec![n, 28, 28, 1], x), labels[..n].to_vec())
}

fn converted(name: &str, options: &ConvertOptions) -> webinfer_converter::Converted {
    convert_path(&fixtures().join(format!("mnist_{name}.onnx")), options).unwrap()
}

fn predict(c: &webinfer_converter::Converted, x: &Tensor) -> Vec<f32> {
    let mut model = webinfer::model_from_bytes(&c.model.to_json(), &c.shards).unwrap();
    model.predict(std::slice::from_ref(x)).unwrap().remove(0).to_f32s()
}

fn argmax(v: &[f32]) -> Vec<usize> {
    v.chunks(10).map(|r| r.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0).collect()
}

fn metric(key: &str) -> f64 {
    let text = std::fs::read_to_string(fixtures().join("metrics.json")).unwrap();
    let at = text.find(&format!("\"{key}\"")).unwrap_or_else(|| panic!("{key} in metrics.json"));
    let rest = &text[at..];
    let value = rest[rest.find(':').unwrap() + 1..].split([',', '\n', '}']).next().unwrap().trim();
    value.parse().unwrap()
}

#[test]
fn outputs_match_onnxruntime_within_1e5() {
    let (x, _) = heldout(64);
    for name in ["mlp", "cnn"] {
        let got = predict(&converted(name, &ConvertOptions::default()), &x);
        let want = npy::read(&fixtures().join(format!("{name}_ort_first64.npy"))).unwrap().to_f32s();
        let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(diff <= 1e-5, "{name}: max |ours - onnxruntime| = {diff:e}");
        let keras = npy::read(&fixtures().join(format!("{name}_keras_first64.npy"))).unwrap().to_f32s();
        let diff = got.iter().zip(&keras).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(diff <= 1e-4, "{name}: max |ours - keras| = {diff:e}");
    }
}

#[test]
fn heldout_accuracy_equals_keras() {
    let (x, labels) = heldout(2000);
    for name in ["mlp", "cnn"] {
        let preds = argmax(&predict(&converted(name, &ConvertOptions::default()), &x));
        let ours = preds.iter().zip(&labels).filter(|(p, l)| p == l).count() as f64 / labels.len() as f64;
        let keras = metric(&format!("mnist_{name}_keras_accuracy"));
        eprintln!("mnist {name}: webinfer accuracy {ours:.4}, keras {keras:.4} on {} held-out digits", labels.len());
        assert!((ours - keras).abs() <= 0.001, "{name}: ours {ours} vs keras {keras}");
    }
    assert!(metric("mnist_cnn_keras_accuracy") >= 0.985, "the CNN must reach 98.5% held-out accuracy");
}

#[test]
fn quantized_models_are_smaller_and_predict_the_same() {
    let (x, labels) = heldout(2000);
    for name in ["mlp", "cnn"] {
        let base = converted(name, &ConvertOptions::default());
        let base_bytes: usize = base.shards.iter().map(Vec::len).sum();
        let reference = argmax(&predict(&base, &x));
        for (q, limit) in [(webinfer::weights::QuantizeTo::Float16, 0.55), (webinfer::weights::QuantizeTo::Uint8, 0.30)]
        {
            let c = converted(name, &ConvertOptions { quantize: Some(q), ..ConvertOptions::default() });
            let bytes: usize = c.shards.iter().map(Vec::len).sum();
            let ratio = bytes as f64 / base_bytes as f64;
            assert!(ratio <= limit, "{name} {q:?}: {ratio:.3} of the float32 shard bytes");
            let preds = argmax(&predict(&c, &x));
            let changed = preds.iter().zip(&reference).filter(|(a, b)| a != b).count();
            let accuracy = preds.iter().zip(&labels).filter(|(p, l)| p == l).count() as f64 / labels.len() as f64;
            eprintln!("mnist {name} {q:?}: {ratio:.3} of f32 bytes, {changed}/2000 predictions changed, accuracy {accuracy:.4}");
            assert_eq!(preds[..64], reference[..64], "{name} {q:?} changed a prediction among the 64 test digits");
            assert!(changed <= 4, "{name} {q:?}: {changed} of 2000 held-out predictions changed");
        }
    }
}

#[test]
fn committed_converted_models_are_current() {
    for (name, quantize) in [("mlp", None), ("cnn", None), ("cnn", Some(webinfer::weights::QuantizeTo::Float16))] {
        let dir_name = if quantize.is_some() { format!("{name}-f16") } else { name.to_string() };
        let committed = fixtures().join("converted").join(&dir_name);
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join(&dir_name);
        write_output(&converted(name, &ConvertOptions { quantize, ..ConvertOptions::default() }), &out).unwrap();
        for entry in std::fs::read_dir(&out).unwrap() {
            let file = entry.unwrap().file_name();
            let fresh = std::fs::read(out.join(&file)).unwrap();
            let old = std::fs::read(committed.join(&file)).unwrap_or_default();
            assert!(fresh == old, "{dir_name}/{file:?} is stale: run tools/convert-fixtures.sh");
        }
    }
}
