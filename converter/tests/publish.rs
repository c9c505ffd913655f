//! `webinfer publish / versions / promote / retire`: a TF Serving-style model repository with versions.json.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use webinfer_converter::repo::{ModelRepo, Versions};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/onnx/convnet.onnx")
}

fn webinfer(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_webinfer")).args(args).output().expect("webinfer runs")
}

fn ok(out: Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "failed: {text}\n{}", String::from_utf8_lossy(&out.stderr));
    text
}

fn fails(out: Output) -> String {
    assert_eq!(out.status.code(), Some(1), "expected a clean failure: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn versions(model: &Path) -> Versions {
    serde_json::from_str(&std::fs::read_to_string(model.join("versions.json")).unwrap()).unwrap()
}

#[test]
fn publish_numbers_versions_never_replaces_one_and_rolls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("models/convnet");
    let (src, m) = (fixture(), model.clone());
    let publish = |extra: &[&str]| {
        let mut args = vec![std::ffi::OsStr::new("publish"), src.as_os_str(), m.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        webinfer(&args)
    };
    assert!(ok(publish(&[])).contains("published convnet version 1 (0001); latest is 1"));
    assert!(ok(publish(&["--quantize", "float16"])).contains("version 2 (0002); latest is 2"));
    let v = versions(&model);
    assert_eq!((v.name.as_str(), v.latest, v.versions.len()), ("convnet", 2, 2));
    for entry in &v.versions {
        let dir = model.join(&entry.dir);
        let json = std::fs::read(dir.join("model.json")).unwrap();
        assert_eq!(entry.sha256, webinfer::weights::sha256_hex(&json));
        let bytes: u64 = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
        assert_eq!(entry.bytes, bytes);
        assert!(entry.created.ends_with('Z') && entry.created.len() == 20, "{}", entry.created);
        webinfer::load_dir(&dir).unwrap();
    }
    assert!(v.versions[1].bytes < v.versions[0].bytes, "float16 shards are smaller");

    // An existing version is never replaced, and nothing about it changes.
    let before = std::fs::read(model.join("0001/model.json")).unwrap();
    let err = fails(publish(&["--version", "1"]));
    assert!(err.contains("version 1 exists") && err.contains("publish 3 instead"), "{err}");
    assert_eq!(std::fs::read(model.join("0001/model.json")).unwrap(), before);
    assert_eq!(versions(&model), v);

    // Staged: version 5 published while 2 stays the latest; then promoted; then rolled back.
    assert!(ok(publish(&["--version", "5", "--latest", "2"])).contains("version 5 (0005); latest is 2"));
    let list = ok(webinfer(&["versions".as_ref(), model.as_os_str()]));
    assert!(list.starts_with("convnet: latest 2") && list.contains("*    2  0002") && list.contains("     5  0005"));
    assert_eq!(ModelRepo::new(&model).next_version().unwrap(), 6);
    ok(webinfer(&["promote".as_ref(), model.as_os_str(), "5".as_ref()]));
    assert_eq!(versions(&model).latest, 5);
    ok(webinfer(&["promote".as_ref(), model.as_os_str(), "1".as_ref()]));
    assert_eq!(versions(&model).latest, 1);
    let err = fails(webinfer(&["promote".as_ref(), model.as_os_str(), "4".as_ref()]));
    assert!(err.contains("no version 4"), "{err}");

    // Retiring removes a version that is not the latest, from the list and from disk.
    let err = fails(webinfer(&["retire".as_ref(), model.as_os_str(), "1".as_ref()]));
    assert!(err.contains("version 1 is the latest"), "{err}");
    ok(webinfer(&["retire".as_ref(), model.as_os_str(), "2".as_ref()]));
    let v = versions(&model);
    assert_eq!(v.versions.iter().map(|e| e.version).collect::<Vec<_>>(), vec![1, 5]);
    assert!(!model.join("0002").exists() && model.join("0005/model.json").exists());
    assert!(!model.join(".versions.json.tmp").exists());
}

#[test]
fn a_failed_publish_leaves_the_repository_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m");
    let src = fixture();
    ok(webinfer(&["publish".as_ref(), src.as_os_str(), model.as_os_str()]));
    let before = std::fs::read_to_string(model.join("versions.json")).unwrap();
    let missing = tmp.path().join("missing.onnx");
    fails(webinfer(&["publish".as_ref(), missing.as_os_str(), model.as_os_str()]));
    let err =
        fails(webinfer(&["publish".as_ref(), src.as_os_str(), model.as_os_str(), "--latest".as_ref(), "9".as_ref()]));
    assert!(err.contains("--latest 9: no such version"), "{err}");
    assert_eq!(std::fs::read_to_string(model.join("versions.json")).unwrap(), before);
    let dirs: Vec<String> =
        std::fs::read_dir(&model).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
}
