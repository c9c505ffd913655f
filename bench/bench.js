// One engine × backend × model per page load (query: engine, backend, model, iters, batch32, mode, sizes).
// Results land in window.benchResult for bench/run.mjs. Everything is served from this origin. Model runs load
// the shipped package (/pkg, whose bytes are measured); the matmul mode needs the benchMatmul test hook, which
// only the `testing` build has (/bench/pkg-testing, `make bench-pkg`).
const q = new URLSearchParams(location.search);
const engine = q.get("engine");
const backend = q.get("backend");
const modelName = q.get("model");
const iters = Number(q.get("iters") ?? 200);
const batch32Runs = Number(q.get("batch32") ?? 5);
const matmulSizes = (q.get("sizes") ?? "128,256,512,1024").split(",").map(Number);

const MODELS = {
  "mnist-mlp": { shape: [28, 28, 1], webinfer: "/tests/fixtures/mnist/converted/mlp/model.json", onnx: "/tests/fixtures/mnist/mnist_mlp.onnx", tfjs: "/bench/models/mnist-mlp/tfjs/model.json" },
  "mnist-cnn": { shape: [28, 28, 1], webinfer: "/tests/fixtures/mnist/converted/cnn/model.json", onnx: "/tests/fixtures/mnist/mnist_cnn.onnx", tfjs: "/bench/models/mnist-cnn/tfjs/model.json" },
  mobilenetv2: { shape: [224, 224, 3], webinfer: "/bench/models/mobilenetv2/webinfer/model.json", onnx: "/bench/models/mobilenetv2/model.onnx", tfjs: "/bench/models/mobilenetv2/tfjs/model.json" },
};
const TFJS = "/bench/node_modules/@tensorflow/";
const ORT = "/bench/node_modules/onnxruntime-web/dist/";

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(s);
  });
}

/** Deterministic inputs in [0, 1): the same bytes for every engine. */
function input(batch, shape) {
  const n = batch * shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = (s >>> 8) / 16777216;
  }
  return x;
}

/** Each engine: load the model, return predict(x, shape) → Promise<Float32Array>. */
const ENGINES = {
  async webinfer(m) {
    const { default: init, Model, simdBuild } = await import("/pkg/index.js");
    const build = backend === "cpu-relaxed" ? "relaxed-simd" : "simd128";
    await init({ module_or_path: `/pkg/${build === "relaxed-simd" ? "webinfer_relaxed_bg.wasm" : "webinfer_bg.wasm"}` });
    if (simdBuild() !== build) throw new Error(`asked for the ${build} build, got ${simdBuild()}`);
    const model = await Model.load(m.webinfer, { backend: backend === "webgpu" ? "webgpu" : "cpu" });
    return async (x, shape) => (await model.predict(x, shape)).data;
  },
  async tfjs(m) {
    await loadScript(`${TFJS}tfjs/dist/tf.min.js`);
    if (backend === "wasm") {
      await loadScript(`${TFJS}tfjs-backend-wasm/dist/tf-backend-wasm.min.js`);
      tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
      tf.wasm.setWasmPaths(`${TFJS}tfjs-backend-wasm/dist/`);
    } else {
      await loadScript(`${TFJS}tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js`);
    }
    if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} is not available`);
    await tf.ready();
    const model = await tf.loadGraphModel(m.tfjs);
    return async (x, shape) => {
      const t = tf.tensor(x, shape);
      const y = model.execute(t);
      const data = await y.data();
      tf.dispose([t, y]);
      return data;
    };
  },
  async ort(m) {
    await loadScript(`${ORT}${backend === "webgpu" ? "ort.webgpu.min.js" : "ort.wasm.min.js"}`);
    ort.env.wasm.wasmPaths = ORT;
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(m.onnx, { executionProviders: [backend === "webgpu" ? "webgpu" : "wasm"] });
    const [inName] = session.inputNames;
    const [outName] = session.outputNames;
    return async (x, shape) => {
      const out = await session.run({ [inName]: new ort.Tensor("float32", x, shape) });
      return out[outName].data;
    };
  },
};

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function modelBench() {
  const m = MODELS[modelName];
  const predict = await ENGINES[engine](m);
  const one = input(1, m.shape);
  const first = await predict(one, [1, ...m.shape]);
  const coldMs = performance.now();
  const sample = Array.from(first.slice(0, 16));
  for (let i = 0; i < Math.min(5, iters); i++) await predict(one, [1, ...m.shape]);
  const times = [];
  for (let i = 0; i < iters; i++) {
    const t = performance.now();
    await predict(one, [1, ...m.shape]);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  let throughput = null;
  let batch32Count = 0;
  if (batch32Runs > 0) {
    const batch = input(32, m.shape);
    for (let i = 0; i < 3; i++) await predict(batch, [32, ...m.shape]);
    // At least batch32Runs runs and half a second of them, so a fast model's figure is not one timer tick.
    const runs = [];
    for (let spent = 0; runs.length < batch32Runs || (spent < 500 && runs.length < 5000); ) {
      const t = performance.now();
      await predict(batch, [32, ...m.shape]);
      runs.push(performance.now() - t);
      spent += runs.at(-1);
    }
    runs.sort((a, b) => a - b);
    throughput = 32 / (percentile(runs, 0.5) / 1000);
    batch32Count = runs.length;
  }
  return { cold_ms: coldMs, p50_ms: percentile(times, 0.5), p95_ms: percentile(times, 0.95), iters, batch32_items_per_s: throughput, batch32_runs: batch32Count, sample };
}

async function matmulBench() {
  const sizes = matmulSizes;
  const out = [];
  if (engine.startsWith("webinfer")) {
    const { default: init, benchMatmul } = await import("/bench/pkg-testing/index.js");
    await init({ module_or_path: `/bench/pkg-testing/${engine === "webinfer-relaxed" ? "webinfer_relaxed_bg.wasm" : "webinfer_bg.wasm"}` });
    for (const n of sizes) out.push({ n, gflops: Math.max(...[0, 1, 2].map(() => benchMatmul(n, Math.max(2, Math.round(2e8 / n ** 3))))) });
  } else {
    await loadScript(`${TFJS}tfjs/dist/tf.min.js`);
    await loadScript(`${TFJS}tfjs-backend-wasm/dist/tf-backend-wasm.min.js`);
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    tf.wasm.setWasmPaths(`${TFJS}tfjs-backend-wasm/dist/`);
    await tf.setBackend("wasm");
    for (const n of sizes) {
      const a = tf.randomNormal([n, n]);
      const b = tf.randomNormal([n, n]);
      const reps = Math.max(2, Math.round(2e8 / n ** 3));
      let best = 0;
      for (let r = 0; r < 3; r++) {
        tf.matMul(a, b).dataSync();
        const t = performance.now();
        for (let i = 0; i < reps; i++) tf.tidy(() => tf.matMul(a, b).dataSync());
        best = Math.max(best, (2 * n ** 3 * reps) / ((performance.now() - t) / 1000) / 1e9);
      }
      out.push({ n, gflops: best });
      tf.dispose([a, b]);
    }
  }
  return { matmul: out };
}

/** 32 callers predicting one item at a time, concurrently, for ≥ 1 s: items/s without batching, with batching
 * on the page, and with batching in a worker (webinfer/cpu, the shipped package). */
async function callersBench() {
  const { default: init, Model } = await import("/pkg/index.js");
  const { withBatching } = await import("/pkg/batching.js");
  const { WorkerModel } = await import("/pkg/worker.js");
  await init();
  const seconds = Number(q.get("seconds") ?? 1);
  const out = [];
  for (const name of (q.get("models") ?? "mnist-mlp,mnist-cnn").split(",")) {
    const m = MODELS[name];
    const variants = {
      unbatched: async () => Model.load(m.webinfer, { backend: "cpu" }),
      batched: async () => withBatching(await Model.load(m.webinfer, { backend: "cpu" }), { maxBatch: 32, maxDelayMs: 2 }),
      "worker-batched": async () => WorkerModel.load(m.webinfer, { backend: "cpu", batching: { maxBatch: 32, maxDelayMs: 2 } }),
    };
    for (const [mode, make] of Object.entries(variants)) {
      const model = await make();
      const x = input(1, m.shape);
      await model.predict(x, [1, ...m.shape]);
      let items = 0;
      const end = performance.now() + seconds * 1000;
      const start = performance.now();
      await Promise.all(Array.from({ length: 32 }, async () => {
        while (performance.now() < end) {
          await model.predict(x, [1, ...m.shape]);
          items += 1;
        }
      }));
      const ms = performance.now() - start;
      out.push({ model: name, mode, callers: 32, items_per_s: items / (ms / 1000), batches: model.batching?.batches ?? items });
      model.free();
    }
  }
  return { callers: out };
}

try {
  const mode = q.get("mode");
  window.benchResult = mode === "matmul" ? await matmulBench() : mode === "callers" ? await callersBench() : await modelBench();
  document.getElementById("status").textContent = "done";
} catch (e) {
  window.benchResult = { error: String(e?.message ?? e) };
  document.getElementById("status").textContent = `failed: ${e?.message ?? e}`;
}
