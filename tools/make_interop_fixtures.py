"""Interop fixtures (tests/fixtures/interop/): small Keras models in every format webinfer reads.

For each model in MODELS, built twice with the same weights (Keras 3 and tf_keras):
- model.keras, model_keras3.h5 (Keras 3); model_tfkeras.h5 (tf_keras, legacy HDF5)
- saved_export/ (Keras 3 `model.export()`), saved_tf/ (`tf.saved_model.save` of the tf_keras model)
- tfjs_graph_{none,float16,uint8}/ from saved_export; tfjs_graph_uint16/ from saved_tf
- tfjs_layers_{none,float16,uint8}/ (Keras 2 style, from the tf_keras .h5) and
  tfjs_layers3_{none,float16,uint8}/ (Keras 3 style, from model.keras)
- input.npy (a seeded batch of 2) and keras_output.npy (Keras 3 `model(input)`)
- the SavedModel layouts people produce from the same Keras 3 model (`--saved-layouts` redoes only these, from the
  committed model.keras): saved_book/0001 (`tf.saved_model.save(model, ...)`, the book's
  my_mnist_model/0001) and saved_module (a `tf.Module` holding the model, saved with two explicit
  `@tf.function(input_signature=...)` signatures: serving_default, and "percent" = 100 * model(x), whose
  reference is keras_output_percent.npy)
Small shard sizes and split-by-layer groups make several shards and groups.
Then tools/tfjs_reference.mjs runs real TF.js (@tensorflow/tfjs in Node, bench/node_modules) on every
tfjs_* directory it can load and writes tfjs_output.json beside it. TF.js cannot load Keras 3 style
layers models; those are checked against their Keras 2 twins, which hold the same dequantized weights.

Needs the pinned TensorFlow environment (tools/requirements-interop.txt); CI never runs this.
Usage: python tools/make_interop_fixtures.py [--saved-layouts]
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "interop")
SHARD_BYTES = 4096
QUANTIZATIONS = ("none", "float16", "uint8")


def seq_cnn(k):
    """Sequential: conv, batch norm, pooling, depthwise, zero padding, flatten, dense."""
    L = k.layers
    return k.Sequential([
        k.Input(shape=(12, 12, 3), name="image"),
        L.Conv2D(8, 3, padding="same", activation="relu", name="conv"),
        L.BatchNormalization(name="bn"),
        L.MaxPooling2D(2, name="pool"),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="valid", name="dw"),
        L.ReLU(name="relu"),
        L.ZeroPadding2D(((1, 0), (0, 1)), name="zpad"),
        L.AveragePooling2D(2, strides=1, padding="same", name="avg"),
        L.Flatten(name="flat"),
        L.Dropout(0.3, name="drop"),
        L.Dense(16, activation="tanh", name="fc1"),
        L.Dense(5, name="fc2"),
        L.Softmax(name="probs"),
    ], name="seq_cnn")


def residual(k):
    """Functional: residual Add over a depthwise-separable block, Concatenate, global pooling."""
    L = k.layers
    x_in = k.Input(shape=(16, 16, 4), name="image")
    x = L.Conv2D(8, 3, strides=2, padding="same", name="stem")(x_in)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(max_value=6.0, name="stem_relu6")(x)
    y = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="block_dw")(x)
    y = L.BatchNormalization(name="block_dw_bn")(y)
    y = L.Activation("relu", name="block_dw_relu")(y)
    y = L.Conv2D(8, 1, name="block_pw")(y)
    y = L.BatchNormalization(name="block_pw_bn")(y)
    x = L.Add(name="residual")([x, y])
    s = L.SeparableConv2D(6, 3, padding="same", activation="elu", name="sep")(x)
    x = L.Concatenate(name="concat")([x, s])
    x = L.AveragePooling2D(2, name="avg")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(12, activation="sigmoid", name="fc")(x)
    x = L.Reshape((3, 4), name="reshape")(x)
    x = L.Flatten(name="flat")(x)
    out = L.Dense(4, activation="softmax", name="probs")(x)
    return k.Model(x_in, out, name="residual")


def mlp(k):
    """Functional with two inputs concatenated; Dense activations relu6-free so every flavour agrees."""
    L = k.layers
    a = k.Input(shape=(6,), name="a")
    b = k.Input(shape=(4,), name="b")
    x = L.Concatenate(name="cat")([a, b])
    x = L.Dense(16, activation="relu", name="h1")(x)
    x = L.Dense(8, activation="tanh", name="h2")(x)
    out = L.Dense(3, name="logits")(x)
    return k.Model([a, b], out, name="mlp")


MODELS = {"seq_cnn": seq_cnn, "residual": residual, "mlp": mlp}


def randomize(model, rng):
    """Non-trivial weights and batch-norm statistics (fresh ones are identities)."""
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        new = []
        for w in weights:
            if "BatchNormalization" in type(layer).__name__ and len(new) == 3:
                new.append(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
            else:
                new.append(rng.normal(0, 0.4, w.shape).astype("float32"))
        layer.set_weights(new)


def inputs_for(model, rng):
    return [rng.normal(0, 1, (2,) + tuple(t.shape[1:])).astype("float32") for t in model.inputs]


def run(*args):
    subprocess.run([str(a) for a in args], check=True)


def tfjs_convert(src, out, input_format, output_format, quantization, extra=()):
    shutil.rmtree(out, ignore_errors=True)
    args = [sys.executable, "-m", "tensorflowjs.converters.converter", f"--input_format={input_format}",
            f"--output_format={output_format}", f"--weight_shard_size_bytes={SHARD_BYTES}", *extra]
    if quantization != "none":
        args.append(f"--quantize_{quantization}=*")
    if output_format == "tfjs_graph_model":
        args.append("--signature_name=serving_default")
    run(*args, src, out)


def make(name, build):
    import keras
    import tensorflow as tf
    import tf_keras

    out = os.path.join(OUT, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    keras.utils.set_random_seed(11)
    rng = np.random.default_rng(11)
    k3 = build(keras)
    randomize(k3, rng)
    k2 = build(tf_keras)
    k2.set_weights(k3.get_weights())
    xs = inputs_for(k3, rng)
    y3 = k3(xs if len(xs) > 1 else xs[0], training=False).numpy()
    y2 = k2(xs if len(xs) > 1 else xs[0], training=False).numpy()
    assert np.abs(y3 - y2).max() < 1e-5, "Keras 3 and tf_keras disagree"
    for i, x in enumerate(xs):
        np.save(os.path.join(out, f"input{i}.npy"), x)
    with open(os.path.join(out, "input_names.json"), "w") as f:
        json.dump([t.name.split(":")[0] for t in k3.inputs], f)
    np.save(os.path.join(out, "keras_output.npy"), y3)

    k3.save(os.path.join(out, "model.keras"))
    k3.save(os.path.join(out, "model_keras3.h5"))
    k2.save(os.path.join(out, "model_tfkeras.h5"))
    k3.export(os.path.join(out, "saved_export"))
    tf.saved_model.save(k2, os.path.join(out, "saved_tf"))

    for q in QUANTIZATIONS:
        tfjs_convert(os.path.join(out, "saved_export"), os.path.join(out, f"tfjs_graph_{q}"), "tf_saved_model", "tfjs_graph_model", q)
        split = ["--split_weights_by_layer"] if q == "uint8" else []
        tfjs_convert(os.path.join(out, "model_tfkeras.h5"), os.path.join(out, f"tfjs_layers_{q}"), "keras", "tfjs_layers_model", q, split)
        tfjs_convert(os.path.join(out, "model.keras"), os.path.join(out, f"tfjs_layers3_{q}"), "keras_keras", "tfjs_layers_model", q, split)
    tfjs_convert(os.path.join(out, "saved_tf"), os.path.join(out, "tfjs_graph_uint16"), "tf_saved_model", "tfjs_graph_model", "uint16")


def saved_layouts(name):
    """The book's layout and a tf.Module with explicit signatures, from the committed model.keras."""
    import keras
    import tensorflow as tf

    out = os.path.join(OUT, name)
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    xs = [np.load(os.path.join(out, f"input{i}.npy")) for i in range(len(model.inputs))]
    want = np.load(os.path.join(out, "keras_output.npy"))
    got = model(xs if len(xs) > 1 else xs[0], training=False).numpy()
    assert np.abs(got - want).max() < 1e-6, "model.keras no longer reproduces keras_output.npy"

    book = os.path.join(out, "saved_book")
    shutil.rmtree(book, ignore_errors=True)
    tf.saved_model.save(model, os.path.join(book, "0001"))

    specs = [tf.TensorSpec((None,) + tuple(t.shape[1:]), tf.float32, name=t.name.split(":")[0]) for t in model.inputs]

    class Served(tf.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def call(self, xs):
            return self.model(list(xs) if len(xs) > 1 else xs[0], training=False)

    module = Served(model)
    if len(specs) == 1:
        serve = tf.function(lambda x: {"probs": module.call([x])}, input_signature=specs)
        percent = tf.function(lambda x: {"percent": 100.0 * module.call([x])}, input_signature=specs)
    else:
        serve = tf.function(lambda a, b: {"probs": module.call([a, b])}, input_signature=specs)
        percent = tf.function(lambda a, b: {"percent": 100.0 * module.call([a, b])}, input_signature=specs)
    module.serve, module.percent = serve, percent
    saved = os.path.join(out, "saved_module")
    shutil.rmtree(saved, ignore_errors=True)
    tf.saved_model.save(module, saved, signatures={"serving_default": serve, "percent": percent})
    np.save(os.path.join(out, "keras_output_percent.npy"), (100.0 * got).astype("float32"))


def main():
    if "--saved-layouts" not in sys.argv:
        for name, build in MODELS.items():
            make(name, build)
        run("node", os.path.join(ROOT, "tools", "tfjs_reference.mjs"), OUT)
    for name in MODELS:
        saved_layouts(name)


if __name__ == "__main__":
    main()
