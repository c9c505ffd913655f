// Every public API of the package, typed: `make test` compiles this with `tsc --strict --noEmit`
// (tools/check-types.mjs), against the built pkg/.
import init, { Model, initSync, relaxedSimdSupported, defaultWasmUrl, simdBuild, version } from "webinfer";
import type { LoadOptions, Limits, Profile, ProfileRow, TensorData, TensorInfo, WebinferErrorName } from "webinfer";
import { ModelStore, StoredModel } from "webinfer/store.js";
import type { StoreLoadOptions, StoredPrediction, StoreUsage, UpdateReady, VersionList, StoredVersion } from "webinfer/store.js";
import { WorkerModel, WorkerPool } from "webinfer/worker.js";
import type { WorkerLoadOptions } from "webinfer/worker.js";
import { Batcher, withBatching } from "webinfer/batching.js";
import type { BatchingStats } from "webinfer/batching.js";

async function main(): Promise<void> {
  const url: URL = defaultWasmUrl();
  const relaxed: boolean = relaxedSimdSupported();
  await init({ module_or_path: url });
  void initSync;
  const build: string = simdBuild();
  const v: string = version();

  const limits: Limits = { maxWeightBytes: 2 ** 30, maxModelBytes: 2 ** 31, maxTensorElements: 2 ** 28, maxPlanElements: 2 ** 29 };
  const controller = new AbortController();
  const options: LoadOptions = {
    backend: "auto",
    onProgress: (fraction: number) => console.log(fraction),
    fetch: { credentials: "same-origin" },
    signal: controller.signal,
    timeoutMs: 30000,
    warmUp: true,
    onDeviceLost: (message: string) => console.warn(message),
    limits,
  };
  const model: Model = await Model.load("/models/mnist/0002/model.json", options);
  const inputs: TensorInfo[] = model.inputs;
  const outputs: TensorInfo[] = model.outputs;
  const backend: string = model.backend;
  const adapter: string | undefined = model.adapter;
  const reasons: [string, string | undefined] = [model.backendReason, model.cpuReason];
  const size: number = model.sizeBytes;
  const pixels = new Float32Array(784);
  const out = (await model.predict(pixels, [1, 28, 28, 1])) as TensorData;
  const data: Float32Array = out.data;
  const sync = model.predictSync(pixels, [1, 28, 28, 1]);
  const profile: Profile = await model.profile(pixels, [1, 28, 28, 1], { runs: 5 });
  const slowest: ProfileRow | undefined = profile.rows[0];
  const timing: "cpu-kernel" | "webgpu-timestamp" | "webgpu-dispatch-wall" = profile.timing;
  const fromBytes: Model = await Model.fromBytes("{}", [new Uint8Array(0)], { backend: "cpu" });
  fromBytes.free();
  model.free();

  try {
    await Model.load("/missing/model.json");
  } catch (e) {
    const name = (e as Error).name as WebinferErrorName;
    if (name === "IoError" || name === "AbortError" || name === "TimeoutError") console.log(name);
  }

  const store: ModelStore = await ModelStore.open("/models/", { storage: "opfs", timeoutMs: 10000, fetch: { cache: "no-store" } });
  const list: VersionList = await store.versions("mnist");
  const stored: StoredVersion[] = store.stored("mnist");
  const loadOptions: StoreLoadOptions = { version: "latest", backend: "cpu", split: { 1: 0.9, 2: 0.1 }, bucket: "user-1" };
  const running: StoredModel = await store.load("mnist", loadOptions);
  const prediction: StoredPrediction = await running.predict(pixels, [1, 28, 28, 1]);
  const which: number = prediction.version;
  const source: "network" | "store" = running.source;
  const update: UpdateReady | null = await store.checkForUpdate("mnist", { onProgress: (f: number) => console.log(f) });
  if (update) {
    const upgraded: number = await store.upgrade("mnist");
    console.log(upgraded, update.current);
  }
  const back: number = await store.rollback("mnist");
  const pinned: number | null = store.pinned("mnist");
  await store.unpin("mnist");
  const removed: number[] = await store.evict("mnist", { keep: 2 });
  const usage: StoreUsage = await store.usage();
  const evictions: string[] = store.evictions;
  store.unload("mnist");

  const pool = new WorkerPool(2);
  const workerOptions: WorkerLoadOptions = { pool, backend: "cpu", batching: { maxBatch: 32, maxDelayMs: 2 }, transferInput: true };
  const inWorker: WorkerModel = await WorkerModel.load("/models/mnist/0002/model.json", workerOptions);
  const workerOut = await inWorker.predict(pixels, [1, 28, 28, 1]);
  const workerProfile: Profile = await inWorker.profile(pixels, [1, 28, 28, 1], { runs: 3 });
  const stats: BatchingStats | undefined = inWorker.batching;
  const workerBuild: string = inWorker.simdBuild;
  inWorker.free();
  pool.terminate();

  const batcher = new Batcher((input: Float32Array, shape: number[]) => model.predict(input, shape), { maxBatch: 8 });
  const batchedModel = withBatching(await Model.load("/m/model.json"), { maxDelayMs: 1 });
  const wrapped: BatchingStats = batchedModel.batching;
  await batcher.predict(pixels, [1, 28, 28, 1]);

  console.log(relaxed, build, v, inputs, outputs, backend, adapter, reasons, size, data, sync, slowest, timing);
  console.log(list, stored, which, source, back, pinned, removed, usage, evictions, workerOut, workerProfile, stats, workerBuild, wrapped);
}

void main();
