"""Models for `make bench` (bench/models/), the same weights for every engine.

- mnist-mlp, mnist-cnn: the committed trained MNIST SavedModels (tests/fixtures/mnist) as TF.js graph
  models. The ONNX files and webinfer conversions of the same Keras models are already committed there.
- mobilenetv2: Keras MobileNetV2-1.0-224 with seeded random weights (and random BatchNorm statistics),
  exported as a TF.js graph model and, through tf2onnx, as ONNX. About 14 MB each, committed so that
  `make bench` needs no TensorFlow; `make bench-models` converts the ONNX file for webinfer.

Needs the pinned TensorFlow environment (tools/requirements-train.txt plus tensorflowjs==4.22.0, then
ydf==0.15.0); CI never runs this.
Usage: python tools/make_bench_models.py [--only mnist|mobilenetv2]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "models")


def tfjs_graph_model(saved_model: str, out_dir: str) -> None:
    shutil.rmtree(out_dir, ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "tensorflowjs.converters.converter", "--input_format=tf_saved_model",
         "--output_format=tfjs_graph_model", "--signature_name=serving_default", saved_model, out_dir],
        check=True,
    )


def mnist() -> None:
    for name in ("mlp", "cnn"):
        saved = os.path.join(ROOT, "tests", "fixtures", "mnist", f"mnist_{name}_savedmodel")
        tfjs_graph_model(saved, os.path.join(OUT, f"mnist-{name}", "tfjs"))


def mobilenetv2() -> None:
    import numpy as np
    import tensorflow as tf
    import tf2onnx

    tf.keras.utils.set_random_seed(7)
    model = tf.keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3), classes=1000)
    rng = np.random.default_rng(7)
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                rng.normal(0, 0.1, beta.shape).astype("float32"),
                rng.normal(0, 0.1, mean.shape).astype("float32"),
                rng.uniform(0.5, 1.5, var.shape).astype("float32"),
            ])
    out = os.path.join(OUT, "mobilenetv2")
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        saved = os.path.join(tmp, "saved")
        model.export(saved)
        tfjs_graph_model(saved, os.path.join(out, "tfjs"))
    spec = (tf.TensorSpec((None, 224, 224, 3), tf.float32, name="input"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=os.path.join(out, "model.onnx"))
    x = rng.uniform(0, 1, (1, 224, 224, 3)).astype("float32")
    np.save(os.path.join(out, "keras_input.npy"), x)
    np.save(os.path.join(out, "keras_output.npy"), model(x, training=False).numpy())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["mnist", "mobilenetv2"])
    args = parser.parse_args()
    if args.only in (None, "mnist"):
        mnist()
    if args.only in (None, "mobilenetv2"):
        mobilenetv2()


if __name__ == "__main__":
    main()
