//! ONNX backend node tests (vendored in tests/onnx_node by tools/vendor_onnx_node_tests.py): each model
//! goes through convert → run on the CPU backend and on the WebGPU backend (natively through Vulkan) and
//! must match ONNX's reference outputs. Skips and per-test tolerances live in tests/onnx_node_skips.txt,
//! each with its reason (`gpu-skip`/`gpu-tol` lines apply to the WebGPU run only); a skipped test that
//! passes fails this test so the list stays honest.

use prost::Message;
use std::path::{Path, PathBuf};
use webinfer::tensor::Tensor;
use webinfer_backend_tests::{cpu, root, webgpu_backend, Backend};
use webinfer_converter::onnx::{pb, tensor_from_proto};
use webinfer_converter::{convert_onnx, ConvertOptions};

const ATOL: f64 = 1e-5;
const RTOL: f64 = 1e-5;

struct Rules {
    skips: Vec<(glob::Pattern, String)>,
    tolerances: Vec<(glob::Pattern, f64)>,
}

fn rules(backend: &Backend) -> Rules {
    let text = std::fs::read_to_string(root().join("tests/onnx_node_skips.txt")).expect("tests/onnx_node_skips.txt");
    let mut r = Rules { skips: Vec::new(), tolerances: Vec::new() };
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let mut parts = line.splitn(3, char::is_whitespace);
        let gpu = backend.name() == "webgpu";
        match (parts.next(), parts.next(), parts.next()) {
            (Some("gpu-skip" | "gpu-tol"), ..) if !gpu => {}
            (Some("skip"), Some(p), Some(reason)) | (Some("gpu-skip"), Some(p), Some(reason)) => {
                r.skips.push((glob::Pattern::new(p).unwrap(), reason.trim().to_string()))
            }
            (Some("tol" | "gpu-tol"), Some(p), Some(t)) => {
                let value = t.split_whitespace().next().unwrap().parse().unwrap();
                r.tolerances.push((glob::Pattern::new(p).unwrap(), value))
            }
            _ => panic!("bad line in onnx_node_skips.txt: {line}"),
        }
    }
    r
}

fn read_pb(path: &Path) -> Tensor {
    let bytes = std::fs::read(path).unwrap();
    tensor_from_proto(&pb::TensorProto::decode(&bytes[..]).unwrap()).unwrap()
}

fn run_case(dir: &Path, atol: f64, backend: &Backend) -> Result<(), String> {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let bytes = std::fs::read(dir.join("model.onnx")).map_err(|e| e.to_string())?;
    let converted =
        convert_onnx(bytes.clone(), &name, &ConvertOptions::default()).map_err(|e| format!("convert: {e}"))?;
    let model =
        webinfer::model_from_bytes(&converted.model.to_json(), &converted.shards).map_err(|e| format!("load: {e}"))?;
    let data = dir.join("test_data_set_0");
    let mut inputs = Vec::new();
    let mut i = 0;
    while data.join(format!("input_{i}.pb")).exists() {
        inputs.push(read_pb(&data.join(format!("input_{i}.pb"))));
        i += 1;
    }
    let names: Vec<String> = model.inputs().iter().map(|v| v.name.clone()).collect();
    let graph = pb::ModelProto::decode(&bytes[..]).unwrap().graph.unwrap();
    let named: Vec<(String, Tensor)> =
        graph.input.iter().map(|v| v.name().to_string()).zip(inputs).filter(|(n, _)| names.contains(n)).collect();
    let outputs =
        model.order_by_name(named).and_then(|inputs| backend.run(model, &inputs)).map_err(|e| format!("run: {e}"))?;
    for (j, got) in outputs.iter().enumerate() {
        let want = read_pb(&data.join(format!("output_{j}.pb")));
        if got.shape != want.shape {
            return Err(format!("output {j}: shape {:?}, expected {:?}", got.shape, want.shape));
        }
        let (g, w): (Vec<f64>, Vec<f64>) = if want.is_float() {
            (got.to_f32s().iter().map(|&v| v as f64).collect(), want.to_f32s().iter().map(|&v| v as f64).collect())
        } else {
            (got.to_i64s().iter().map(|&v| v as f64).collect(), want.to_i64s().iter().map(|&v| v as f64).collect())
        };
        for (k, (a, b)) in g.iter().zip(&w).enumerate() {
            let same = (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= atol + RTOL * b.abs();
            if !same {
                return Err(format!("output {j}[{k}]: {a} vs expected {b} (|diff| {:.3e})", (a - b).abs()));
            }
        }
    }
    Ok(())
}

#[test]
fn onnx_backend_node_tests_cpu() {
    match cpu() {
        Some(backend) => node_tests(backend),
        None => webinfer_backend_tests::say("ONNX node tests on cpu: skipped, the `cpu` feature is off"),
    }
}

#[test]
fn onnx_backend_node_tests_webgpu() {
    if let Some(backend) = webgpu_backend("ONNX node tests") {
        node_tests(backend);
    }
}

fn node_tests(backend: Backend) {
    let rules = rules(&backend);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("tests/onnx_node"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("model.onnx").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() > 400, "expected the vendored node tests, found {}", dirs.len());
    let (mut passed, mut skipped, mut failures, mut stale) = (0, 0, Vec::new(), Vec::new());
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let atol = rules.tolerances.iter().find(|(p, _)| p.matches(&name)).map_or(ATOL, |(_, t)| *t);
        let skip = rules.skips.iter().find(|(p, _)| p.matches(&name));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(dir, atol, &backend)))
            .unwrap_or_else(|_| Err("panicked".into()));
        match (result, skip) {
            (Ok(()), None) => passed += 1,
            (Ok(()), Some(_)) => stale.push(name),
            (Err(_), Some(_)) => skipped += 1,
            (Err(e), None) => failures.push(format!("{name}: {e}")),
        }
    }
    let line = format!(
        "ONNX node tests on {}: {passed} passed, {} failed, {skipped} skipped (reasons in tests/onnx_node_skips.txt)\n",
        backend.name(),
        failures.len()
    );
    std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes()).unwrap();
    assert!(
        failures.is_empty(),
        "{} node tests failed on {}:\n{}",
        failures.len(),
        backend.name(),
        failures.join("\n")
    );
    assert!(
        stale.is_empty(),
        "skipped tests now pass on {}, remove them from the skip list: {stale:?}",
        backend.name()
    );
}

/// Targeted cases with onnxruntime references (tools/make_op_cases.py): odd GEMM and conv sizes, batch 1
/// and 7, broadcasting corners, folded BatchNorm and fused activations. No skips, on either backend.
#[test]
fn targeted_op_cases_match_onnxruntime() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("tests/onnx_ops"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("model.onnx").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 70, "expected the targeted op cases, found {}", dirs.len());
    for backend in webinfer_backend_tests::backends("targeted op cases") {
        let failures: Vec<String> = dirs
            .iter()
            .filter_map(|dir| {
                run_case(dir, ATOL, &backend)
                    .err()
                    .map(|e| format!("{}: {e}", dir.file_name().unwrap().to_string_lossy()))
            })
            .collect();
        let line = format!(
            "targeted op cases on {}: {} passed, {} failed\n",
            backend.name(),
            dirs.len() - failures.len(),
            failures.len()
        );
        std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes()).unwrap();
        assert!(
            failures.is_empty(),
            "{} op cases failed on {}:\n{}",
            failures.len(),
            backend.name(),
            failures.join("\n")
        );
    }
}
