fn main() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    println!("cargo:rerun-if-changed=proto/tensorflow.proto");
    let fds = protox::compile(["proto/onnx.proto", "proto/tensorflow.proto"], ["proto"])
        .expect("the vendored protos compile");
    prost_build::Config::new().bytes(["."]).compile_fds(fds).expect("prost generates the ONNX and TensorFlow types");
}
