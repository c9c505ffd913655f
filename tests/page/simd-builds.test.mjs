// The package entry (pkg/index.js) picks the relaxed-SIMD wasm in Chromium and the baseline where the probe fails
// (simulated: Chromium 156 and Firefox ESR 153 both run relaxed SIMD), and both builds match onnxruntime on
// the MNIST fixtures: the baseline at the suite's 1e-5, the relaxed build (fused multiply-add rounds once) at 1e-4,
// with its measured worst error printed. Needs pkg/ (`make pkg`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { serve, launch, ROOT } from "./harness.mjs";

function npy(path) {
  const bytes = readFileSync(ROOT + path);
  const headerLen = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLen).toString("latin1");
  const body = bytes.subarray(10 + headerLen);
  const copy = new Uint8Array(body).buffer;
  if (header.includes("'<f4'")) return Array.from(new Float32Array(copy));
  if (header.includes("'<u2'")) return Array.from(new Uint16Array(copy));
  throw new Error(`${path}: unexpected dtype in ${header}`);
}

const digits = npy("tests/fixtures/mnist/heldout_x_milli.npy").slice(0, 64 * 784).map((v) => v / 1000);
const MODELS = ["mlp", "cnn"].map((name) => ({
  name,
  url: `/tests/fixtures/mnist/converted/${name}/model.json`,
  want: npy(`tests/fixtures/mnist/${name}_ort_first64.npy`),
}));

/** Loads pkg/index.js in a fresh page, inits with `wasm` (or the default pick), and runs both MNIST models. */
async function runBuild(context, base, wasm, { withoutRelaxedSimd = false } = {}) {
  const page = await context.newPage();
  // A browser without relaxed SIMD, as the probe sees it: WebAssembly.validate refuses relaxed_madd (0xfd 0x85 0x02).
  if (withoutRelaxedSimd) {
    await page.addInitScript(() => {
      const validate = WebAssembly.validate;
      WebAssembly.validate = (bytes) => !new Uint8Array(bytes.buffer ?? bytes).some((b, i, a) => b === 0xfd && a[i + 1] === 0x85 && a[i + 2] === 0x02) && validate(bytes);
    });
  }
  await page.goto(`${base}tests/page/blank.html`);
  return page.evaluate(
    async ({ wasm, digits, models }) => {
      const pkg = await import("/pkg/index.js");
      await pkg.default(wasm ? { module_or_path: `/pkg/${wasm}` } : undefined);
      const out = { build: pkg.simdBuild(), relaxed: pkg.relaxedSimdSupported(), picked: pkg.defaultWasmUrl().pathname, diffs: {} };
      for (const m of models) {
        const model = await pkg.Model.load(m.url, { backend: "cpu" });
        const got = (await model.predict(new Float32Array(digits), [64, 28, 28, 1])).data;
        out.diffs[m.name] = got.reduce((d, v, i) => Math.max(d, Math.abs(v - m.want[i])), 0);
        model.free();
      }
      return out;
    },
    { wasm, digits, models: MODELS },
  );
}

test("init() picks the relaxed-SIMD build where it validates and the baseline elsewhere; both match onnxruntime", async () => {
  const server = await serve(".");
  const context = await launch({ webgpu: false });
  try {
    const picked = await runBuild(context, server.url);
    assert.equal(picked.relaxed, true, "Chromium validates relaxed SIMD");
    assert.equal(picked.picked, "/pkg/webinfer_relaxed_bg.wasm");
    assert.equal(picked.build, "relaxed-simd");
    const baseline = await runBuild(context, server.url, "webinfer_bg.wasm");
    assert.equal(baseline.build, "simd128");
    for (const [name, d] of Object.entries(baseline.diffs)) assert.ok(d <= 1e-5, `baseline ${name}: max |diff| vs onnxruntime ${d}`);
    for (const [name, d] of Object.entries(picked.diffs)) assert.ok(d <= 1e-4, `relaxed ${name}: max |diff| vs onnxruntime ${d}`);
    const fallback = await runBuild(context, server.url, undefined, { withoutRelaxedSimd: true });
    assert.equal(fallback.relaxed, false);
    assert.equal(fallback.picked, "/pkg/webinfer_bg.wasm");
    assert.equal(fallback.build, "simd128");
    assert.deepEqual(fallback.diffs, baseline.diffs);
    console.log(`max |diff| vs onnxruntime, 64 MNIST digits: baseline ${JSON.stringify(baseline.diffs)}, relaxed ${JSON.stringify(picked.diffs)}`);
  } finally {
    await context.close();
    await server.stop();
  }
});
