//! Ships the WGSL kernels without comments and indentation: `src/gpu/*.wgsl` stay the readable sources, and
//! `Shader::source` includes the copies written here.

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let dir = Path::new("src/gpu");
    println!("cargo:rerun-if-changed=src/gpu");
    for entry in std::fs::read_dir(dir).expect("src/gpu exists") {
        let path = entry.expect("src/gpu is readable").path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let source = std::fs::read_to_string(&path).expect("a .wgsl file is UTF-8 text");
            let name = path.file_name().expect("a file name");
            std::fs::write(Path::new(&out).join(name), minify(&source)).expect("OUT_DIR is writable");
        }
    }
}

/// Drops `//` comments, indentation and blank lines. WGSL has no string literals, so `//` always starts a comment.
fn minify(source: &str) -> String {
    let mut out = String::with_capacity(source.len() / 2);
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("").trim();
        if !code.is_empty() {
            out.push_str(code);
            out.push('\n');
        }
    }
    out
}
