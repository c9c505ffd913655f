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
  console.log("n      best GFLOP/s  median GFLOP/s  vs 30.7 GFLOP/s simd128 kernel");
  for (const r of results) {
    console.log(`${String(r.n).padEnd(6)} ${r.gflops.toFixed(1).padStart(12)}  ${r.median.toFixed(1).padStart(14)}  ${(r.gflops / BEST_SIMD128_KERNEL_GFLOPS).toFixed(2)}x`);
  }
} finally {
  await context.close();
  await server.stop();
}
