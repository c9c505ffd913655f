// The Web Worker behind WorkerModel (worker.js): it runs the engine, holds the models loaded into it, and answers
// {id, op, args} messages with {id, result} or {id, error: {name, message}}; outputs are transferred, not copied.
import init, { Model, simdBuild } from "./index.js";

const models = new Map();
const loads = new Map();
let nextKey = 1;
let started;

function describe(model) {
  return {
    inputs: model.inputs,
    outputs: model.outputs,
    backend: model.backend,
    adapter: model.adapter,
    backendReason: model.backendReason,
    cpuReason: model.cpuReason,
    sizeBytes: model.sizeBytes,
  };
}

function buffers(result) {
  if (result?.data instanceof Float32Array) return [result.data.buffer];
  return Object.values(result ?? {}).flatMap((t) => (t?.data instanceof Float32Array ? [t.data.buffer] : []));
}

function model(key) {
  const found = models.get(key);
  if (!found) {
    const error = new Error(`worker model ${key} is freed`);
    error.name = "InputError";
    throw error;
  }
  return found;
}

async function load(id, [source, options = {}, shards]) {
  const controller = new AbortController();
  loads.set(id, controller);
  const key = nextKey++;
  const withCallbacks = {
    ...options,
    signal: controller.signal,
    onProgress: options.progress ? (fraction) => postMessage({ id, progress: fraction }) : undefined,
    onDeviceLost: (message) => {
      postMessage({ key, deviceLost: message, info: models.has(key) ? describe(models.get(key)) : undefined });
    },
  };
  delete withCallbacks.progress;
  try {
    const loaded = shards ? await Model.fromBytes(source, shards, withCallbacks) : await Model.load(source, withCallbacks);
    models.set(key, loaded);
    return { key, info: describe(loaded), build: simdBuild() };
  } finally {
    loads.delete(id);
  }
}

const OPS = {
  load,
  abort: async (_, [loadId, reason]) => loads.get(loadId)?.abort(reason),
  predict: async (_, [key, input, shape]) => model(key).predict(input, shape ?? undefined),
  profile: async (_, [key, input, shape, options]) => model(key).profile(input, shape ?? undefined, options),
  info: async (_, [key]) => describe(model(key)),
  free: async (_, [key]) => {
    models.get(key)?.free();
    models.delete(key);
  },
};

self.onmessage = async ({ data: { id, op, args } }) => {
  try {
    started ??= init();
    await started;
    const result = await OPS[op](id, args);
    postMessage({ id, result }, buffers(result));
  } catch (e) {
    postMessage({ id, error: { name: e?.name ?? "Error", message: e?.message ?? String(e) } });
  }
};
