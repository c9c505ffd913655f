//! `webinfer publish / versions / promote / retire`: a TF Serving-style model repository with versions.json.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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
    let mut entries: Vec<String> =
        std::fs::read_dir(&model).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    entries.sort();
    assert_eq!(entries, [".lock", "0001", "versions.json"]);
}

#[test]
fn concurrent_publishers_never_lose_a_version_or_half_write_versions_json() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("models/race");
    let src = fixture();
    ok(webinfer(&["publish".as_ref(), src.as_os_str(), model.as_os_str()]));
    let spawn = |extra: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_webinfer"));
        command.arg("publish").arg(&src).arg(&model).args(extra);
        command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (done, path) = (done.clone(), model.join("versions.json"));
        std::thread::spawn(move || {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let text = std::fs::read_to_string(&path).unwrap();
                let parsed: Result<Versions, _> = serde_json::from_str(&text);
                assert!(parsed.is_ok(), "a reader saw a half-written versions.json: {text:?}");
                reads += 1;
            }
            reads
        })
    };

    // Two writers of the same version: one wins, the other is told the version exists.
    let outcomes: Vec<Output> =
        [spawn(&["--version", "2"]), spawn(&["--version", "2"])].map(|c| c.wait_with_output().unwrap()).into();
    let winners = outcomes.iter().filter(|o| o.status.success()).count();
    assert_eq!(winners, 1, "{outcomes:?}");
    let loser = outcomes.iter().find(|o| !o.status.success()).unwrap();
    assert!(String::from_utf8_lossy(&loser.stderr).contains("version 2 exists"), "{loser:?}");

    // Two writers taking the next free number: both land, as 3 and 4, and neither overwrites the other's entry.
    let outcomes: Vec<Output> = [spawn(&[]), spawn(&[])].map(|c| c.wait_with_output().unwrap()).into();
    assert!(outcomes.iter().all(|o| o.status.success()), "{outcomes:?}");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    let v = versions(&model);
    assert_eq!(v.versions.iter().map(|e| e.version).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert!(v.latest == 3 || v.latest == 4, "{v:?}");
    for entry in &v.versions {
        webinfer::load_dir(&model.join(&entry.dir)).unwrap();
    }
    assert!(!model.join(".versions.json.tmp").exists());
}
