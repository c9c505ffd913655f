// `make bench-cpu`: GEMM GFLOP/s of webinfer's CPU backend in headless Chromium, one thread.
import { serve, launch } from "../tests/page/harness.mjs";

const BEST_SIMD128_KERNEL_GFLOPS = 30.7; // the hand-written 4x8 simd128 kernel measured on this machine kind (DEVELOPERS.md)
const server = await serve(".");
const context = await launch({ webgpu: false });
try {
  const page = await context.newPage();
  await page.goto(`${server.url}bench/cpu.html`);
  await page.waitForFunction(() => window.benchResults, null, { timeout: 300000 });
  const results = await page.evaluate(() => window.benchResults);
  const models = await page.evaluate(() => window.modelResults);
  console.log("model     p50 ms   p95 ms   load+first ms   batch-32 items/s");
  for (const m of models) {
    console.log(`${m.model.padEnd(9)} ${m.p50_ms.toFixed(3).padStart(6)}  ${m.p95_ms.toFixed(3).padStart(7)}  ${m.load_and_first_ms.toFixed(1).padStart(13)}  ${m.batch32_items_per_s.toFixed(0).padStart(16)}`);
  }
  console.log("n      best GFLOP/s  median GFLOP/s  vs 30.7 GFLOP/s simd128 kernel");
  for (const r of results) {
    console.log(`${String(r.n).padEnd(6)} ${r.gflops.toFixed(1).padStart(12)}  ${r.median.toFixed(1).padStart(14)}  ${(r.gflops / BEST_SIMD128_KERNEL_GFLOPS).toFixed(2)}x`);
  }
} finally {
  await context.close();
  await server.stop();
}
