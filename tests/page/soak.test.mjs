// Long runs in headless Chromium: 100,000 CPU predictions of the MNIST MLP with wasm memory flat, 10,000 on WebGPU
// (SwiftShader) with the count of live GPU buffers flat, and 500 load/free cycles without growth. Prints the start
// and end figures. Needs pkg/ (`make pkg`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { serve, launch } from "./harness.mjs";

const MODEL = "/tests/fixtures/mnist/converted/mlp/model.json";

test("100k CPU and 10k WebGPU predictions and 500 load/free cycles keep memory and GPU buffers flat", { timeout: 600000 }, async () => {
  const server = await serve(".");
  const context = await launch({ webgpu: true });
  try {
    const page = await context.newPage();
    // Live GPU buffers: created minus destroyed (a buffer the engine drops without destroy() would stay counted).
    await page.addInitScript(() => {
      window.gpuBuffers = { created: 0, destroyed: 0 };
      if (!self.GPUDevice) return;
      const create = GPUDevice.prototype.createBuffer;
      GPUDevice.prototype.createBuffer = function (descriptor) {
        window.gpuBuffers.created++;
        const buffer = create.call(this, descriptor);
        const destroy = buffer.destroy.bind(buffer);
        buffer.destroy = () => {
          window.gpuBuffers.destroyed++;
          destroy();
        };
        return buffer;
      };
    });
    await page.goto(`${server.url}tests/page/blank.html`);
    const result = await page.evaluate(async (url) => {
      const pkg = await import("/pkg/index.js");
      const wasm = await pkg.default();
      const memory = () => wasm.memory.buffer.byteLength;
      const live = () => gpuBuffers.created - gpuBuffers.destroyed;
      const digit = new Float32Array(784).map((_, i) => (i * 7919) % 255 / 255);
      const out = {};

      const cpu = await pkg.Model.load(url, { backend: "cpu" });
      const first = Array.from((await cpu.predict(digit, [1, 28, 28, 1])).data);
      out.cpuStart = memory();
      let same = true;
      for (let i = 0; i < 100000; i++) {
        const got = cpu.predictSync(digit, [1, 28, 28, 1]).data;
        if (i % 10000 === 0) same &&= got.every((v, j) => v === first[j]);
      }
      out.cpuEnd = memory();
      out.cpuSame = same;
      cpu.free();

      const gpu = await pkg.Model.load(url, { backend: "webgpu" });
      await gpu.predict(digit, [1, 28, 28, 1]);
      out.gpuMemoryStart = memory();
      out.gpuBuffersStart = live();
      let gpuWorst = 0;
      for (let i = 0; i < 10000; i++) {
        const got = (await gpu.predict(digit, [1, 28, 28, 1])).data;
        if (i % 1000 === 0) gpuWorst = Math.max(gpuWorst, ...got.map((v, j) => Math.abs(v - first[j])));
      }
      out.gpuBuffersEnd = live();
      out.gpuMemoryEnd = memory();
      out.gpuWorst = gpuWorst;
      gpu.free();

      const cycle = async () => (await pkg.Model.load(url, { backend: "cpu" })).free();
      for (let i = 0; i < 20; i++) await cycle();
      out.cyclesStart = memory();
      for (let i = 20; i < 500; i++) await cycle();
      out.cyclesEnd = memory();
      return out;
    }, MODEL);
    console.log(`100,000 CPU predictions: wasm memory ${result.cpuStart} -> ${result.cpuEnd} bytes`);
    console.log(`10,000 WebGPU predictions: live GPU buffers ${result.gpuBuffersStart} -> ${result.gpuBuffersEnd}, wasm memory ${result.gpuMemoryStart} -> ${result.gpuMemoryEnd}, worst |gpu - cpu| ${result.gpuWorst}`);
    console.log(`500 load/free cycles: wasm memory ${result.cyclesStart} (after 20) -> ${result.cyclesEnd} bytes`);
    assert.equal(result.cpuEnd, result.cpuStart, "wasm memory grew over 100,000 CPU predictions");
    assert.ok(result.cpuSame, "CPU predictions drifted");
    assert.equal(result.gpuBuffersEnd, result.gpuBuffersStart, "live GPU buffers grew over 10,000 predictions");
    assert.equal(result.gpuMemoryEnd, result.gpuMemoryStart, "wasm memory grew over 10,000 WebGPU predictions");
    assert.ok(result.gpuWorst <= 1e-4, `WebGPU differs from the CPU by ${result.gpuWorst}`);
    assert.equal(result.cyclesEnd, result.cyclesStart, "wasm memory grew over 480 load/free cycles");
  } finally {
    await context.close();
    await server.stop();
  }
});
