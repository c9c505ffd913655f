//! The `webinfer` binary end to end: convert → run against onnxruntime references, determinism,
//! quantization, and clear failures (exit ≠ 0, a message naming the culprit, nothing partial left behind).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_webinfer"))
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/onnx")
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("webinfer runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a clean failure (exit 1, no panic): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn read_npy(path: &Path) -> Vec<f32> {
    webinfer_converter::npy::read(path).unwrap().to_f32s()
}

fn convert(args: &[&str], out: &Path) -> String {
    let model = fixtures().join("convnet.onnx");
    ok(&run(bin().arg("convert").arg(&model).arg(out).args(args)))
}

fn predict(model_dir: &Path, batch: usize, tmp: &Path) -> Vec<f32> {
    let out = tmp.join(format!("out_b{batch}.npy"));
    ok(&run(bin()
        .arg("run")
        .arg(model_dir)
        .arg("--input")
        .arg(fixtures().join(format!("convnet_input_b{batch}.npy")))
        .arg("--output")
        .arg(&out)));
    read_npy(&out)
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn convnet_matches_onnxruntime_for_batch_1_and_3_with_bn_folded_and_activations_fused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("convnet");
    let summary = convert(&[], &dir);
    assert!(summary.contains("Conv×2") && summary.contains("shards: 1"), "{summary}");
    let json = std::fs::read_to_string(dir.join("model.json")).unwrap();
    assert!(!json.contains("BatchNormalization"), "BatchNormalization should fold into the Conv");
    assert!(json.contains("\"Relu\"") && json.contains("\"Clip\""), "activations should be fused into the Convs");
    assert!(json.contains("\"N\""), "the symbolic batch dimension should survive");
    for batch in [1, 3] {
        let want = read_npy(&fixtures().join(format!("convnet_ort_b{batch}.npy")));
        let got = predict(&dir, batch, tmp.path());
        assert!(max_diff(&got, &want) <= 1e-5, "batch {batch}: max |diff| {}", max_diff(&got, &want));
    }
}

#[test]
fn run_auto_treats_lavapipe_as_no_gpu_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("convnet");
    convert(&[], &dir);
    let out = tmp.path().join("auto.npy");
    let said = ok(&run(bin()
        .arg("run")
        .arg(&dir)
        .arg("--backend")
        .arg("auto")
        .arg("--input")
        .arg(fixtures().join("convnet_input_b3.npy"))
        .arg("--output")
        .arg(&out)));
    assert!(said.contains("backend: cpu (auto: "), "{said}");
    if said.contains("no GPU adapter") && std::env::var_os("WEBINFER_EXPECT_WEBGPU").is_none() {
        eprintln!("run --backend auto: no Vulkan adapter here, so the software-adapter rule went untested");
    } else {
        assert!(
            said.contains("llvmpipe") && said.contains("software renderer"),
            "lavapipe should be the adapter: {said}"
        );
    }
    let want = read_npy(&fixtures().join("convnet_ort_b3.npy"));
    assert!(max_diff(&read_npy(&out), &want) <= 1e-5);
}

#[test]
fn run_on_the_webgpu_backend_matches_onnxruntime() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("convnet");
    convert(&[], &dir);
    for batch in [1, 3] {
        let out = tmp.path().join(format!("gpu_b{batch}.npy"));
        let input = fixtures().join(format!("convnet_input_b{batch}.npy"));
        let mut cmd = bin();
        for headless in ["NODEVICE_SELECT", "XDG_RUNTIME_DIR", "WAYLAND_DISPLAY", "DISPLAY"] {
            cmd.env_remove(headless);
        }
        let output = run(cmd
            .arg("run")
            .arg(&dir)
            .arg("--backend")
            .arg("webgpu")
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&out));
        let said = ok(&output);
        assert!(said.contains("backend: webgpu on"), "{said}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.trim().is_empty(), "a successful run on a headless machine printed to stderr: {stderr}");
        let want = read_npy(&fixtures().join(format!("convnet_ort_b{batch}.npy")));
        let got = read_npy(&out);
        assert!(max_diff(&got, &want) <= 1e-4, "batch {batch}: max |webgpu - onnxruntime| {}", max_diff(&got, &want));
    }
}

#[test]
fn batchnorm_as_mul_add_and_zero_pads_fold_into_the_conv() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/onnx_ops");
    let ops = |case: &str| {
        let out = tmp.path().join(case);
        ok(&run(bin().arg("convert").arg(cases.join(case).join("model.onnx")).arg(&out)));
        let json = std::fs::read_to_string(out.join("model.json")).unwrap();
        let model = webinfer::json::ModelJson::parse(&json).unwrap();
        model.graph.nodes.iter().map(|n| n.op.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        ops("depthwise_mul_add_relu6_b7"),
        ["Conv"],
        "Mul, Add and the Relu6 Clip should fold into the depthwise Conv"
    );
    assert_eq!(ops("zero_pad_then_conv_s2_b7"), ["Conv"], "a zero Pad should become the Conv's pads");
    assert_eq!(ops("valued_pad_then_conv_b7"), ["Pad", "Conv"], "a Pad with a non-zero value must stay");
}

#[test]
fn conversion_is_byte_identical_across_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    convert(&["--shard-size", "4000"], &a);
    convert(&["--shard-size", "4000"], &b);
    let names: Vec<_> = std::fs::read_dir(&a).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(names.len() >= 5, "expected several shards: {names:?}");
    for name in names {
        assert_eq!(std::fs::read(a.join(&name)).unwrap(), std::fs::read(b.join(&name)).unwrap(), "{name:?} differs");
    }
}

#[test]
fn quantized_variants_shrink_and_keep_predictions() {
    let tmp = tempfile::tempdir().unwrap();
    let f32_dir = tmp.path().join("f32");
    convert(&[], &f32_dir);
    let shard_bytes = |d: &Path| -> u64 {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "bin"))
            .map(|p| p.metadata().unwrap().len())
            .sum()
    };
    let base = shard_bytes(&f32_dir);
    let reference = predict(&f32_dir, 3, tmp.path());
    let argmax = |v: &[f32]| -> Vec<usize> {
        v.chunks(10).map(|r| r.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0).collect()
    };
    for (q, limit, tol) in [("float16", 0.55, 2e-3), ("uint8", 0.30, 5e-2), ("uint16", 0.55, 1e-3)] {
        let dir = tmp.path().join(q);
        convert(&["--quantize", q], &dir);
        let ratio = shard_bytes(&dir) as f64 / base as f64;
        assert!(ratio <= limit, "{q}: {ratio:.3} of the float32 bytes");
        let got = predict(&dir, 3, tmp.path());
        assert!(max_diff(&got, &reference) <= tol, "{q}: max |diff| {}", max_diff(&got, &reference));
        assert_eq!(argmax(&got), argmax(&reference), "{q} changed a prediction");
        let json = std::fs::read_to_string(dir.join("model.json")).unwrap();
        assert!(json.contains(&format!("\"dtype\": \"{q}\"")), "{q} not recorded in the manifest");
    }
    let only = tmp.path().join("only");
    convert(&["--quantize", "uint8", "--quantize-only", "w3*"], &only);
    let json = std::fs::read_to_string(only.join("model.json")).unwrap();
    assert_eq!(json.matches("\"uint8\"").count(), 1, "only w3 should be quantized");
}

#[test]
fn unsupported_ops_name_op_domain_node_and_leave_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    for (file, op, domain, node) in [
        ("unsupported_op.onnx", "Det", "ai.onnx", "determinant"),
        ("custom_domain.onnx", "FancyActivation", "com.example", "custom"),
    ] {
        let out = tmp.path().join("out");
        let err = fails(&run(bin().arg("convert").arg(fixtures().join(file)).arg(&out)));
        assert!(
            err.contains(&format!("\"{op}\""))
                && err.contains(domain)
                && err.contains(&format!("\"{node}\""))
                && err.contains(file),
            "{err}"
        );
        assert!(err.contains("supported ops:") && err.contains("Conv"), "{err}");
        assert!(!out.exists());
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "partial output left behind");
    }
}

#[test]
fn truncated_and_random_files_fail_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let model = std::fs::read(fixtures().join("convnet.onnx")).unwrap();
    let truncated = tmp.path().join("truncated.onnx");
    std::fs::write(&truncated, &model[..model.len() / 2]).unwrap();
    let err = fails(&run(bin().arg("convert").arg(&truncated).arg(tmp.path().join("o1"))));
    assert!(err.contains("truncated.onnx") && err.contains("not a valid ONNX model"), "{err}");
    let random = tmp.path().join("random.onnx");
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(&random, bytes).unwrap();
    let err = fails(&run(bin().arg("convert").arg(&random).arg(tmp.path().join("o2"))));
    assert!(err.contains("random.onnx"), "{err}");
    let unknown = tmp.path().join("weights.xyz");
    std::fs::write(&unknown, b"hello").unwrap();
    let err = fails(&run(bin().arg("convert").arg(&unknown).arg(tmp.path().join("o3"))));
    assert!(err.contains("cannot tell the model format"), "{err}");
    assert!(!tmp.path().join("o1").exists() && !tmp.path().join("o2").exists() && !tmp.path().join("o3").exists());
}

#[test]
fn run_rejects_wrong_shapes_ranks_and_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    convert(&[], &dir);
    let bad = tmp.path().join("bad.npy");
    webinfer_converter::npy::write(&bad, &webinfer::Tensor::f32(vec![2, 1, 27, 28], vec![0.0; 2 * 27 * 28])).unwrap();
    let err =
        fails(&run(bin().arg("run").arg(&dir).arg("--input").arg(&bad).arg("--output").arg(tmp.path().join("o.npy"))));
    assert!(err.contains("\"x\"") && err.contains("[N, 1, 28, 28]") && err.contains("[2, 1, 27, 28]"), "{err}");
    webinfer_converter::npy::write(&bad, &webinfer::Tensor::f32(vec![784], vec![0.0; 784])).unwrap();
    let err =
        fails(&run(bin().arg("run").arg(&dir).arg("--input").arg(&bad).arg("--output").arg(tmp.path().join("o.npy"))));
    assert!(err.contains("expected shape [N, 1, 28, 28]"), "{err}");
    let err = fails(&run(bin()
        .arg("run")
        .arg(&dir)
        .arg("--input")
        .arg(format!("nope={}", bad.display()))
        .arg("--output")
        .arg(tmp.path().join("o.npy"))));
    assert!(err.contains("unknown input name \"nope\""), "{err}");
}

#[test]
fn corrupted_and_missing_shards_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    convert(&[], &dir);
    ok(&run(bin().arg("inspect").arg(&dir)));
    let shard = dir.join("group1-shard1of1.bin");
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes[100] ^= 0x55;
    std::fs::write(&shard, &bytes).unwrap();
    let out = run(bin().arg("inspect").arg(&dir));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("CORRUPT") && stdout.contains("sha256 mismatch"), "{stdout}");
    fails(&out);
    let err = fails(&run(bin()
        .arg("run")
        .arg(&dir)
        .arg("--input")
        .arg(fixtures().join("convnet_input_b1.npy"))
        .arg("--output")
        .arg(tmp.path().join("o.npy"))));
    assert!(err.contains("sha256 mismatch") && err.contains("group1-shard1of1.bin"), "{err}");
    std::fs::remove_file(&shard).unwrap();
    let err = fails(&run(bin()
        .arg("run")
        .arg(&dir)
        .arg("--input")
        .arg(fixtures().join("convnet_input_b1.npy"))
        .arg("--output")
        .arg(tmp.path().join("o.npy"))));
    assert!(err.contains("group1-shard1of1.bin"), "{err}");
}

#[test]
fn refuses_to_replace_a_directory_that_is_not_a_model() {
    let tmp = tempfile::tempdir().unwrap();
    let precious = tmp.path().join("precious");
    std::fs::create_dir(&precious).unwrap();
    std::fs::write(precious.join("notes.txt"), "keep me").unwrap();
    let err = fails(&run(bin().arg("convert").arg(fixtures().join("convnet.onnx")).arg(&precious)));
    assert!(err.contains("refusing to replace"), "{err}");
    assert_eq!(std::fs::read_to_string(precious.join("notes.txt")).unwrap(), "keep me");
}
