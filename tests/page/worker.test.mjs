// WorkerModel (pkg/worker.js), request batching (pkg/batching.js) and model.profile in headless Chromium: the
// engine in a Web Worker keeps the main thread free (long tasks measured during 200 CPU predictions of the MNIST
// CNN, against the same on the main thread); CPU and WebGPU inside the worker agree with the page's Model; errors
// keep their name; models share a pool; free() ends what it owns; 32 concurrent callers batched get exactly their
// own rows; profile() gives per-op rows on the CPU and on WebGPU. Needs pkg/ (`make pkg`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { serve, launch, ROOT } from "./harness.mjs";

function npy(path) {
  const bytes = readFileSync(join(ROOT, path));
  const headerLen = bytes.readUInt16LE(8);
  const body = new Uint8Array(bytes.subarray(10 + headerLen)).buffer;
  return Array.from(new Uint16Array(body));
}

const digits = npy("tests/fixtures/mnist/heldout_x_milli.npy").slice(0, 32 * 784).map((v) => v / 1000);
const CNN = "/tests/fixtures/mnist/converted/cnn/model.json";
const MLP = "/tests/fixtures/mnist/converted/mlp/model.json";

let server, context, page;

before(async () => {
  server = await serve(".");
  context = await launch({ webgpu: true });
  page = await context.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto(`${server.url}tests/page/blank.html`);
  await page.evaluate(async () => {
    window.pkg = await import("/pkg/index.js");
    window.workers = await import("/pkg/worker.js");
    window.batching = await import("/pkg/batching.js");
    await window.pkg.default();
  });
});

after(async () => {
  await context?.close();
  await server?.stop();
});

test("the worker keeps the main thread free during 200 CNN predictions; the main thread does not", async () => {
  const result = await page.evaluate(
    async ({ url, digits }) => {
      const input = new Float32Array(digits.slice(0, 784));
      async function measure(model) {
        const tasks = [];
        const observer = new PerformanceObserver((list) => tasks.push(...list.getEntries().map((e) => e.duration)));
        observer.observe({ type: "longtask" });
        const start = performance.now();
        const outs = await Promise.all(Array.from({ length: 200 }, () => model.predict(input, [1, 28, 28, 1])));
        const ms = performance.now() - start;
        await new Promise((r) => setTimeout(r, 100));
        observer.disconnect();
        return { tasks: tasks.length, longest: Math.max(0, ...tasks), ms, first: Array.from(outs[0].data), last: Array.from(outs[199].data) };
      }
      const inWorker = await window.workers.WorkerModel.load(url, { backend: "cpu" });
      const worker = await measure(inWorker);
      const build = inWorker.simdBuild;
      inWorker.free();
      const onPage = await window.pkg.Model.load(url, { backend: "cpu" });
      const main = await measure(onPage);
      onPage.free();
      return { worker, main, build };
    },
    { url: CNN, digits },
  );
  const { worker, main } = result;
  console.log(`200 CNN predictions: worker mode ${worker.tasks} long tasks (longest ${worker.longest.toFixed(0)} ms) in ${worker.ms.toFixed(0)} ms (${result.build} build); on the main thread ${main.tasks} long tasks (longest ${main.longest.toFixed(0)} ms) in ${main.ms.toFixed(0)} ms`);
  assert.equal(worker.tasks, 0, "no main-thread task over 50 ms in worker mode");
  assert.ok(main.tasks > 0 && main.longest > 50, "the main-thread run does block (the measurement can see it)");
  assert.deepEqual(worker.first, worker.last);
  assert.ok(worker.first.every((v, i) => Math.abs(v - main.first[i]) < 1e-6), "worker and page compute the same");
});

test("WebGPU runs inside the worker and agrees with the CPU", async () => {
  const r = await page.evaluate(
    async ({ url, digits }) => {
      const input = new Float32Array(digits.slice(0, 4 * 784));
      const gpu = await window.workers.WorkerModel.load(url, { backend: "webgpu" });
      const cpu = await window.workers.WorkerModel.load(url, { backend: "cpu" });
      const a = await gpu.predict(input, [4, 28, 28, 1]);
      const b = await cpu.predict(input, [4, 28, 28, 1]);
      const out = { backend: gpu.backend, adapter: gpu.adapter, worst: Math.max(...Array.from(a.data, (v, i) => Math.abs(v - b.data[i]))), shape: a.shape };
      gpu.free();
      cpu.free();
      return out;
    },
    { url: CNN, digits },
  );
  assert.equal(r.backend, "webgpu");
  assert.deepEqual(r.shape, [4, 10]);
  assert.ok(r.worst < 1e-4, `worst |webgpu - cpu| ${r.worst}`);
  console.log(`WebGPU in the worker (${r.adapter}): worst |diff| against the CPU ${r.worst.toExponential(1)}`);
});

test("errors keep their name across the worker boundary; free() ends the worker it owns; a pool is shared", async () => {
  const r = await page.evaluate(
    async ({ cnn, mlp, digits }) => {
      const { WorkerModel, WorkerPool } = window.workers;
      const caught = async (p) => p.then(() => "resolved", (e) => `${e.name}: ${e.message}`);
      const missing = await caught(WorkerModel.load("/no/such/model.json"));
      const model = await WorkerModel.load(mlp, { backend: "cpu" });
      const badInput = await caught(model.predict(new Float32Array(5), [1, 28, 28, 1]));
      const controller = new AbortController();
      const loading = WorkerModel.load(cnn, { signal: controller.signal, backend: "cpu" });
      controller.abort();
      const aborted = await caught(loading);
      model.free();
      const afterFree = await caught(model.predict(new Float32Array(784), [1, 28, 28, 1]));
      const pool = new WorkerPool(1);
      const a = await WorkerModel.load(cnn, { pool, backend: "cpu" });
      const b = await WorkerModel.load(mlp, { pool, backend: "cpu" });
      const input = new Float32Array(digits.slice(0, 784));
      const before = Array.from((await b.predict(input, [1, 28, 28, 1])).data);
      a.free();
      const after = Array.from((await b.predict(input, [1, 28, 28, 1])).data);
      pool.terminate();
      const afterTerminate = await caught(b.predict(input, [1, 28, 28, 1]));
      return { missing, badInput, aborted, afterFree, same: JSON.stringify(before) === JSON.stringify(after), afterTerminate, progress: await new Promise((resolve) => {
        const seen = [];
        WorkerModel.load(cnn, { backend: "cpu", onProgress: (f) => seen.push(f) }).then((m) => { m.free(); resolve(seen); });
      }) };
    },
    { cnn: CNN, mlp: MLP, digits },
  );
  assert.match(r.missing, /^IoError: .*HTTP 404/);
  assert.match(r.badInput, /^InputError: /);
  assert.match(r.aborted, /^AbortError: /);
  assert.match(r.afterFree, /^InputError: this WorkerModel is freed/);
  assert.equal(r.same, true, "freeing one model of a pool leaves the other running");
  assert.match(r.afterTerminate, /^InputError: the webinfer worker is terminated/);
  assert.equal(r.progress.at(-1), 1, `progress crosses the boundary: ${r.progress}`);
});

test("batching: 32 concurrent callers get exactly their own rows, in fewer runs", async () => {
  const r = await page.evaluate(
    async ({ url, digits }) => {
      const single = await window.workers.WorkerModel.load(url, { backend: "cpu" });
      const batched = await window.workers.WorkerModel.load(url, { backend: "cpu", batching: { maxBatch: 32, maxDelayMs: 5 } });
      const inputs = Array.from({ length: 32 }, (_, i) => new Float32Array(digits.slice(i * 784, (i + 1) * 784)));
      const want = [];
      for (const x of inputs) want.push(Array.from((await single.predict(x, [1, 28, 28, 1])).data));
      const got = (await Promise.all(inputs.map((x) => batched.predict(x, [1, 28, 28, 1])))).map((o) => ({ data: Array.from(o.data), shape: o.shape }));
      const mainThread = window.batching.withBatching(await window.pkg.Model.load(url, { backend: "cpu" }), { maxBatch: 8 });
      const viaWrapper = await Promise.all(inputs.slice(0, 16).map((x) => mainThread.predict(x, [1, 28, 28, 1])));
      const out = { want, got, stats: batched.batching, wrapperStats: mainThread.batching, wrapper: viaWrapper.map((o) => Array.from(o.data)) };
      single.free();
      batched.free();
      mainThread.free();
      return out;
    },
    { url: CNN, digits },
  );
  const dist = (a, b) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  r.got.forEach(({ data, shape }, i) => {
    assert.deepEqual(shape, [1, 10]);
    assert.ok(dist(data, r.want[i]) < 1e-5, `caller ${i}: ${dist(data, r.want[i])} from its own unbatched result`);
    const nearest = r.want.map((w) => dist(data, w)).reduce((best, d, j, all) => (d < all[best] ? j : best), 0);
    assert.equal(nearest, i, `caller ${i} got caller ${nearest}'s row`);
  });
  assert.deepEqual(r.stats, { batches: 1, items: 32 }, "32 callers, one run");
  assert.deepEqual(r.wrapperStats, { batches: 2, items: 16 }, "maxBatch 8: 16 callers in two runs");
  r.wrapper.forEach((data, i) => assert.ok(dist(data, r.want[i]) < 1e-5, `wrapper caller ${i}`));
});

test("profile: per-op rows on the CPU, in the worker, and on WebGPU", async () => {
  const r = await page.evaluate(
    async ({ url, digits }) => {
      const input = new Float32Array(digits.slice(0, 784));
      const cpu = await window.pkg.Model.load(url, { backend: "cpu" });
      const gpu = await window.pkg.Model.load(url, { backend: "webgpu" });
      const worker = await window.workers.WorkerModel.load(url, { backend: "cpu" });
      const out = { cpu: await cpu.profile(input, [1, 28, 28, 1], { runs: 20 }), gpu: await gpu.profile(input, [1, 28, 28, 1], { runs: 3 }), worker: await worker.profile(input, [1, 28, 28, 1]) };
      out.badRuns = await cpu.profile(input, [1, 28, 28, 1], { runs: 0 }).then(() => "resolved", (e) => `${e.name}: ${e.message}`);
      cpu.free();
      gpu.free();
      worker.free();
      return out;
    },
    { url: CNN, digits },
  );
  assert.match(r.gpu.timing, /^webgpu-(timestamp|dispatch-wall)$/);
  for (const [where, p, timing, runs] of [["cpu", r.cpu, "cpu-kernel", 20], ["gpu", r.gpu, r.gpu.timing, 3], ["worker", r.worker, "cpu-kernel", 10]]) {
    assert.equal(p.timing, timing, where);
    assert.equal(p.runs, runs, where);
    assert.ok(p.rows.length >= 5, `${where}: ${p.rows.length} rows`);
    assert.ok(Math.abs(p.rows.reduce((s, row) => s + row.share, 0) - 1) < 1e-6, `${where}: shares sum to 1`);
    assert.ok(p.rows.every((row) => row.ms >= 0 && row.shape.every((d) => d >= 1)), `${where}: times and shapes`);
    assert.ok(p.rows.some((row) => row.op === "Conv"), `${where}: has the convolutions`);
  }
  const shapes = (p) => p.rows.map((row) => `${row.node} ${row.shape}`).sort();
  assert.deepEqual(shapes(r.gpu), shapes(r.cpu), "the same nodes and output shapes on both backends");
  assert.match(r.badRuns, /^InputError: profile: runs 0/);
  assert.deepEqual(r.cpu.rows.map((row) => row.node), r.gpu.rows.map((row) => row.node), "both in execution order");
  assert.deepEqual(r.cpu.rows.at(-1).shape, [1, 10], "the last node makes the output");
  const top = (p) => [...p.rows].sort((a, b) => b.ms - a.ms).slice(0, 4).map((row) => `${row.op} ${row.ms.toFixed(3)} ms (${(row.share * 100).toFixed(0)}%) [${row.shape}]`).join(", ");
  console.log(`CNN profile, CPU: ${r.cpu.totalMs.toFixed(2)} ms: ${top(r.cpu)}`);
  console.log(`CNN profile, WebGPU (${r.gpu.timing}): ${r.gpu.totalMs.toFixed(2)} ms: ${top(r.gpu)}`);
});
