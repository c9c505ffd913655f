#!/usr/bin/env python3
"""Runs every shell command in README.md and docs/API.md exactly as written (`make test-doc-commands`).

Each line of a ```sh block is one command; a trailing `# then: CMD` comment adds CMD after it. Commands that
build (cargo, wasm-pack, make) run at the repository root. The others run in a scratch directory holding the
files the docs name: model.onnx and model.keras (the trained MNIST CNN), my_mnist_model/0001 (its SavedModel),
x.npy (the held-out digit Keras is least sure of, so the comparison has digits to lose), `target` and `pkg` linked to the repository's, and `webinfer` on PATH. Every `run`
output is compared with the Keras reference for that digit. `make demo` is started, fetched and stopped;
`make test` is the command this check runs inside, so it is listed and not started again.
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md", "docs/API.md"]
MNIST = os.path.join(ROOT, "tests", "fixtures", "mnist")
BUILD_TOOLS = ("cargo ", "wasm-pack ", "make ")


def commands(doc):
    text = open(os.path.join(ROOT, doc), encoding="utf-8").read()
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M):
        for line in block.splitlines():
            command, _, comment = line.partition("  #")
            command = command.strip()
            if not command or command.startswith("#"):
                continue
            yield command
            then = re.match(r"\s*then:\s*(.+)", comment)
            if then:
                yield then.group(1).strip()


def read_npy(path):
    """A little-endian float32 or int64 .npy as (shape, values)."""
    raw = open(path, "rb").read()
    header_len = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + header_len].decode("latin1")
    descr = re.search(r"'descr':\s*'([^']+)'", header).group(1)
    shape = tuple(int(d) for d in re.search(r"'shape':\s*\(([^)]*)\)", header).group(1).split(",") if d.strip())
    body = raw[10 + header_len:]
    code = {"<f4": "f", "<i8": "q", "<i2": "h", "<u2": "H", "<i4": "i", "|u1": "B"}[descr]
    count = len(body) // struct.calcsize(code)
    return shape, struct.unpack(f"<{count}{code}", body)


def write_npy(path, shape, values):
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({', '.join(map(str, shape))},), }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack(f"<{len(values)}f", *values))


def stage(scratch):
    shutil.copy(os.path.join(MNIST, "mnist_cnn.onnx"), os.path.join(scratch, "model.onnx"))
    shutil.copy(os.path.join(MNIST, "mnist_cnn.keras"), os.path.join(scratch, "model.keras"))
    shutil.copytree(os.path.join(MNIST, "mnist_cnn_savedmodel"), os.path.join(scratch, "my_mnist_model", "0001"))
    _, keras = read_npy(os.path.join(MNIST, "cnn_keras_first64.npy"))
    rows = [keras[i * 10:(i + 1) * 10] for i in range(len(keras) // 10)]
    least_sure = min(range(len(rows)), key=lambda i: max(rows[i]))
    _, milli = read_npy(os.path.join(MNIST, "heldout_x_milli.npy"))
    pixels = milli[least_sure * 784:(least_sure + 1) * 784]
    write_npy(os.path.join(scratch, "x.npy"), (1, 28, 28, 1), [v / 1000.0 for v in pixels])
    for name in ("target", "pkg"):
        os.symlink(os.path.join(ROOT, name), os.path.join(scratch, name))
    return list(rows[least_sure])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_demo(env):
    port = free_port()
    proc = subprocess.Popen(["make", "demo", f"PORT={port}"], cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.time() + 900
        while time.time() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"make demo exited ({proc.returncode}) instead of serving")
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
                listed = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/models/mnist/versions.json", timeout=5))
                latest = next(v for v in listed["versions"] if v["version"] == listed["latest"])
                model_url = f"http://127.0.0.1:{port}/models/mnist/{latest['dir']}/model.json"
                model = json.load(urllib.request.urlopen(model_url, timeout=5))
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/pkg/webinfer_bg.wasm", timeout=5) as wasm:
                    wasm_type = wasm.headers["Content-Type"]
                    wasm.read()
                assert "<canvas" in page, "the demo page has no canvas"
                assert model["weightsManifest"], "the demo model has no weights"
                assert wasm_type == "application/wasm", wasm_type
                return (
                    f"served the page, versions.json (latest {listed['latest']} of {len(listed['versions'])}), "
                    f"its model.json ({len(model['graph']['nodes'])} nodes) and the wasm on port {port}"
                )
            except (OSError, ValueError):
                time.sleep(2)
        raise SystemExit("make demo did not serve within 15 minutes")
    finally:
        stop_demo(proc)


def stop_demo(proc):
    """Ctrl-C for the server alone (serve.py exits 0 on it), so make ends cleanly instead of reporting a kill."""
    try:
        children = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
    except OSError:
        children = []
    for child in children:
        os.kill(int(child), signal.SIGINT)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        raise SystemExit("make demo did not stop on Ctrl-C to its server")
    if code != 0:
        raise SystemExit(f"make demo exited {code} when its server was stopped")


def main():
    scratch = tempfile.mkdtemp(prefix="webinfer-doc-commands-")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.join(ROOT, "target", "release"), env["PATH"]])
    want = stage(scratch)
    ran = 0
    try:
        for doc in DOCS:
            for command in commands(doc):
                print(f"[doc-commands] {doc}: {command}", flush=True)
                if command.startswith("make test"):
                    print("[doc-commands]   (this check runs inside it)", flush=True)
                    continue
                if command.startswith("make demo"):
                    print(f"[doc-commands]   {check_demo(env)}", flush=True)
                    ran += 1
                    continue
                cwd = ROOT if command.startswith(BUILD_TOOLS) else scratch
                done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env)
                if done.returncode != 0:
                    raise SystemExit(f"{doc}: `{command}` exited {done.returncode}")
                ran += 1
                if command == "npm install ./pkg":
                    probe = 'import init, { Model } from "webinfer"; if (typeof init !== "function" || typeof Model.load !== "function") process.exit(1);'
                    subprocess.run(["node", "--input-type=module", "-e", probe], cwd=scratch, env=env, check=True)
                    print("[doc-commands]   the installed package imports as the README shows", flush=True)
                if " run " in f" {command} " and "--output y.npy" in command:
                    shape, got = read_npy(os.path.join(scratch, "y.npy"))
                    diff = max(abs(a - b) for a, b in zip(got, want))
                    if shape != (1, 10) or diff > 1e-4:
                        raise SystemExit(f"{doc}: `{command}` wrote {shape}, max |y - Keras| = {diff:.2e}")
                    print(f"[doc-commands]   y.npy matches Keras (max diff {diff:.1e})", flush=True)
                    os.remove(os.path.join(scratch, "y.npy"))
        if ran == 0:
            raise SystemExit("no documented command was found")
        print(f"[doc-commands] {ran} documented commands ran and checked", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
