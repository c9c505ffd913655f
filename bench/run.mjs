// `make bench`: webinfer vs TensorFlow.js vs ONNX Runtime Web in headless Chromium, one run, one machine.
// Writes bench/results.json and bench/results.md. `--models=a,b` and `--cpu-only` narrow a run while iterating
// on kernels (results.json then holds only those rows). `--smoke`: one model, a few iterations, checks only
// that every engine runs and agrees, and that webinfer's matmul benchmark runs at one size (part of `make test`,
// so the harness cannot rot). Needs pkg/ and bench/pkg-testing/ (`make pkg bench-pkg`).
import { readFileSync, writeFileSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import { serve, launch, ROOT } from "../tests/page/harness.mjs";

const smoke = process.argv.includes("--smoke");
const cpuOnly = process.argv.includes("--cpu-only");
const only = process.argv.find((a) => a.startsWith("--models="))?.slice("--models=".length).split(",");
const MODELS = smoke ? ["mnist-mlp"] : only ?? ["mnist-mlp", "mnist-cnn", "mobilenetv2"];
const ENGINES = [
  ["webinfer", "cpu"], ["webinfer", "cpu-relaxed"], ["tfjs", "wasm"], ["ort", "wasm"],
  ...(smoke || cpuOnly ? [] : [["webinfer", "webgpu"], ["tfjs", "webgpu"], ["ort", "webgpu"]]),
];

/** Iterations: ≥ 200 at batch 1, except MobileNetV2 on SwiftShader (a CPU rasterizer: seconds per
 * prediction), which gets 3 and no batch-32 run. */
function plan(model, backend) {
  if (smoke) return { iters: 10, batch32: 1 };
  if (backend === "webgpu" && model === "mobilenetv2") return { iters: 3, batch32: 0 };
  return { iters: 200, batch32: model === "mobilenetv2" ? 3 : 10 };
}

const gzBytes = new Map();
function gzipped(path) {
  if (!gzBytes.has(path)) gzBytes.set(path, gzipSync(readFileSync(path), { level: 9 }).length);
  return gzBytes.get(path);
}

/** Engine files a page fetched (the bench page and model files excluded), gzip -9 bytes. */
function shippedBytes(urls, base) {
  const files = [...new Set(urls)]
    .filter((u) => u.startsWith(base))
    .map((u) => decodeURIComponent(new URL(u).pathname))
    .filter((p) => !p.startsWith("/bench/bench.") && !p.includes("/models/") && !p.includes("/fixtures/"));
  return { bytes: files.reduce((sum, p) => sum + gzipped(ROOT + p.slice(1)), 0), files };
}

async function runPage(context, url) {
  const page = await context.newPage();
  const urls = [];
  page.on("request", (r) => urls.push(r.url()));
  await page.goto(url);
  await page.waitForFunction(() => window.benchResult, null, { timeout: 600000 });
  const result = await page.evaluate(() => window.benchResult);
  await page.close();
  if (result.error) throw new Error(`${url}: ${result.error}`);
  return { result, urls };
}

const server = await serve(".");
const runs = [];
const matmul = [];
const callers = [];
try {
  for (const model of MODELS) {
    for (const [engine, backend] of ENGINES) {
      const { iters, batch32 } = plan(model, backend);
      const url = `${server.url}bench/bench.html?engine=${engine}&backend=${backend}&model=${model}&iters=${iters}&batch32=${batch32}`;
      const context = await launch({ webgpu: backend === "webgpu" });
      try {
        const { result, urls } = await runPage(context, url);
        const cached = await runPage(context, `${url.replace(/iters=\d+/, "iters=1").replace(/batch32=\d+/, "batch32=0")}`);
        const shipped = shippedBytes(urls, server.url);
        const run = {
          model, engine, backend,
          p50_ms: result.p50_ms, p95_ms: result.p95_ms, cold_ms: result.cold_ms, cold_cached_ms: cached.result.cold_ms,
          batch32_items_per_s: result.batch32_items_per_s, batch32_runs: result.batch32_runs, bytes_gz: shipped.bytes, iters: result.iters,
          files: shipped.files, sample: result.sample,
        };
        if (backend === "webgpu") run.note = "SwiftShader (software WebGPU): not representative of GPU speed";
        runs.push(run);
        console.log(`${model.padEnd(12)} ${`${engine}/${backend}`.padEnd(16)} p50 ${run.p50_ms.toFixed(3).padStart(9)} ms  p95 ${run.p95_ms.toFixed(3).padStart(9)} ms  cold ${run.cold_ms.toFixed(0).padStart(6)} ms (cached ${run.cold_cached_ms.toFixed(0)})  b32 ${(run.batch32_items_per_s?.toFixed(0) ?? "–").padStart(7)}/s  ${(run.bytes_gz / 1024).toFixed(0)} KB gz`);
      } finally {
        await context.close();
      }
    }
  }
  // The matmul mode runs webinfer's benchMatmul hook (bench/pkg-testing); the smoke run checks it at one size.
  for (const engine of smoke ? ["webinfer"] : ["webinfer", "webinfer-relaxed", "tfjs"]) {
    const context = await launch({ webgpu: false });
    try {
      const { result } = await runPage(context, `${server.url}bench/bench.html?mode=matmul&engine=${engine}${smoke ? "&sizes=128" : ""}`);
      for (const r of result.matmul) matmul.push({ engine: engine.replace("-relaxed", ""), backend: { webinfer: "cpu", "webinfer-relaxed": "cpu-relaxed" }[engine] ?? "wasm", ...r });
    } finally {
      await context.close();
    }
  }
  // 32 concurrent callers with and without request batching (webinfer's shipped package).
  {
    const context = await launch({ webgpu: false });
    try {
      const { result } = await runPage(context, `${server.url}bench/bench.html?mode=callers${smoke ? "&models=mnist-mlp&seconds=0.3" : ""}`);
      callers.push(...result.callers);
      for (const c of result.callers) console.log(`${c.model.padEnd(12)} 32 callers ${c.mode.padEnd(15)} ${c.items_per_s.toFixed(0).padStart(8)} items/s in ${c.batches} runs`);
    } finally {
      await context.close();
    }
  }
} finally {
  await server.stop();
}

// The engines must have run the same weights: their first outputs agree.
const disagreements = [];
for (const model of MODELS) {
  const ofModel = runs.filter((r) => r.model === model);
  for (const r of ofModel.slice(1)) {
    const d = Math.max(...r.sample.map((v, i) => Math.abs(v - ofModel[0].sample[i])));
    r.max_diff_vs_webinfer_cpu = d;
    if (!(d <= 1e-4)) disagreements.push(`${model}: ${r.engine}/${r.backend} differs from webinfer/cpu by ${d}`);
  }
}

if (smoke) {
  const bad = runs.filter((r) => !(r.p50_ms > 0 && r.cold_ms > 0 && r.batch32_items_per_s > 0 && r.bytes_gz > 0));
  const matmulOk = matmul.length === 1 && matmul[0].n === 128 && matmul[0].gflops > 0;
  const callersOk = callers.length === 3 && callers.every((c) => c.items_per_s > 0) && callers.find((c) => c.mode === "batched").batches < callers.find((c) => c.mode === "unbatched").batches;
  if (bad.length || disagreements.length || runs.length !== ENGINES.length || !matmulOk || !callersOk) {
    console.error("bench smoke failed:", JSON.stringify({ bad, disagreements, matmul, callers }, null, 1));
    process.exit(1);
  }
  console.log(`bench smoke: ${runs.length} engines ran ${MODELS[0]} and agree; webinfer matmul n=128: ${matmul[0].gflops.toFixed(1)} GFLOP/s`);
  process.exit(0);
}

const chromium = execFileSync("/usr/bin/chromium", ["--version"]).toString().trim();
const machine = `${cpus().length} × ${cpus()[0].model}, ${Math.round(Number(execFileSync("awk", ["/MemTotal/ {print $2}", "/proc/meminfo"]).toString()) / 1048576)} GiB`;
const results = { machine, chromium, date: new Date().toISOString(), runs: runs.map(({ files, sample, ...r }) => r), matmul, callers, disagreements };
writeFileSync(new URL("results.json", import.meta.url), JSON.stringify(results, null, 2) + "\n");

const fmt = (v, d = 2) => (v === undefined ? "–" : v.toFixed(d));
const lines = [`Machine: ${machine}; ${chromium}; ${results.date.slice(0, 10)}.`, ""];
lines.push("| model | engine/backend | p50 ms | p95 ms | cold ms (cached) | batch-32 items/s | shipped KB gz | p50 ours/this | p50 relaxed/this |", "|---|---|---|---|---|---|---|---|---|");
for (const r of runs) {
  const gpu = r.backend === "webgpu";
  const ours = runs.find((o) => o.model === r.model && o.engine === "webinfer" && o.backend === (gpu ? "webgpu" : "cpu"));
  const relaxed = gpu ? undefined : runs.find((o) => o.model === r.model && o.engine === "webinfer" && o.backend === "cpu-relaxed");
  const ratio = (o) => (r.engine === "webinfer" || !o ? "–" : fmt(o.p50_ms / r.p50_ms));
  lines.push(`| ${r.model} | ${r.engine}/${r.backend}${r.note ? "*" : ""} | ${fmt(r.p50_ms, 3)} | ${fmt(r.p95_ms, 3)} | ${fmt(r.cold_ms, 0)} (${fmt(r.cold_cached_ms, 0)}) | ${fmt(r.batch32_items_per_s ?? undefined, 0)} | ${(r.bytes_gz / 1024).toFixed(0)} | ${ratio(ours)} | ${ratio(relaxed)} |`);
}
lines.push("", "\\* SwiftShader: software WebGPU, not representative of GPU speed.", "", "| n | webinfer cpu GFLOP/s | webinfer cpu-relaxed GFLOP/s | TF.js wasm GFLOP/s | ours/TF.js (relaxed) |", "|---|---|---|---|---|");
for (const n of [128, 256, 512, 1024]) {
  const a = matmul.find((m) => m.backend === "cpu" && m.n === n)?.gflops;
  const r = matmul.find((m) => m.backend === "cpu-relaxed" && m.n === n)?.gflops;
  const b = matmul.find((m) => m.engine === "tfjs" && m.n === n)?.gflops;
  lines.push(`| ${n} | ${fmt(a, 1)} | ${fmt(r, 1)} | ${fmt(b, 1)} | ${a && b ? fmt(a / b) : "–"} (${r && b ? fmt(r / b) : "–"}) |`);
}
lines.push("", "32 concurrent callers, one item each per call (webinfer/cpu, batching: maxBatch 32, maxDelayMs 2):", "", "| model | unbatched items/s | batched items/s | batched in a worker items/s | batched/unbatched |", "|---|---|---|---|---|");
for (const model of [...new Set(callers.map((c) => c.model))]) {
  const of = (mode) => callers.find((c) => c.model === model && c.mode === mode)?.items_per_s;
  lines.push(`| ${model} | ${fmt(of("unbatched"), 0)} | ${fmt(of("batched"), 0)} | ${fmt(of("worker-batched"), 0)} | ${of("unbatched") ? fmt(of("batched") / of("unbatched")) : "–"} |`);
}
writeFileSync(new URL("results.md", import.meta.url), lines.join("\n") + "\n");
console.log(lines.join("\n"));
if (disagreements.length) console.error("engines disagree:", disagreements);
