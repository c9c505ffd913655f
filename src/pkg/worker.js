// Off the main thread (doc: worker.d.ts): WorkerModel runs the engine in a dedicated Web Worker that the package
// starts itself (engine-worker.js), with Model's API; WorkerPool lets several models share a few workers.
import { Batcher } from "./batching.js";

function named(name, message) {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** A plain, cloneable copy of the load options: callbacks, the signal and our own keys stay on this side. */
function cloneableOptions(options) {
  const { onProgress, onDeviceLost, signal, pool, batching, transferInput, fetch, ...rest } = options;
  const plain = { ...rest, progress: typeof onProgress === "function" };
  if (fetch) {
    const { signal: _ignored, headers, ...init } = fetch;
    plain.fetch = { ...init, ...(headers ? { headers: Object.fromEntries(new Headers(headers)) } : {}) };
  }
  return plain;
}

/** Copies (or, with transferInput, hands over) the input buffers so they cross to the worker without a clone. */
function packInput(input, transferInput) {
  const pack = (data) => (transferInput && data instanceof Float32Array ? data : Float32Array.from(data));
  if (input instanceof Float32Array || Array.isArray(input)) {
    const data = pack(input);
    return [data, [data.buffer]];
  }
  if (input && typeof input === "object") {
    const packed = {};
    const transfer = [];
    for (const [name, tensor] of Object.entries(input)) {
      const data = tensor?.data === undefined ? tensor?.data : pack(tensor.data);
      packed[name] = { ...tensor, data };
      if (data) transfer.push(data.buffer);
    }
    return [packed, transfer];
  }
  return [input, []];
}

/** One dedicated Web Worker running the engine. */
class EngineWorker {
  constructor() {
    this.worker = new Worker(new URL("./engine-worker.js", import.meta.url), { type: "module", name: "webinfer-engine" });
    this.pending = new Map();
    this.deviceLost = new Map();
    this.nextId = 1;
    this.models = 0;
    this.worker.onmessage = ({ data }) => {
      if (data.deviceLost !== undefined) return this.deviceLost.get(data.key)?.(data.deviceLost, data.info);
      const call = this.pending.get(data.id);
      if (!call) return;
      if (data.progress !== undefined) return call.onProgress?.(data.progress);
      this.pending.delete(data.id);
      if (data.error) call.reject(named(data.error.name, data.error.message));
      else call.resolve(data.result);
    };
    this.worker.onerror = (e) => this.fail(named("WorkerError", `the webinfer worker failed: ${e.message ?? "it could not start"}`));
    this.worker.onmessageerror = () => this.fail(named("WorkerError", "a message from the webinfer worker could not be read"));
  }

  fail(error) {
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }

  /** Sends one request; resolves to its result. `id` is set before the message goes. */
  call(op, args, { transfer = [], onProgress, onId } = {}) {
    if (this.terminated) return Promise.reject(named("InputError", "the webinfer worker is terminated"));
    const id = this.nextId++;
    onId?.(id);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, op, args }, transfer);
    });
  }

  terminate() {
    this.terminated = true;
    this.worker.terminate();
    this.fail(named("AbortError", "the webinfer worker was terminated"));
  }
}

/** A few engine workers that models share: each load goes to the worker holding the fewest models. */
export class WorkerPool {
  constructor(size = 1) {
    if (!(Number.isInteger(size) && size >= 1)) throw named("InputError", `WorkerPool size ${size}: expected an integer ≥ 1`);
    this.workers = Array.from({ length: size }, () => new EngineWorker());
  }
  get size() {
    return this.workers.length;
  }
  pick() {
    return this.workers.reduce((best, w) => (w.models < best.models ? w : best));
  }
  /** Ends every worker (and every model in them). */
  terminate() {
    for (const w of this.workers) w.terminate();
  }
}

/** Model's API, with the engine in a Web Worker (see worker.d.ts). */
export class WorkerModel {
  static load(url, options = {}) {
    let href;
    try {
      href = new URL(url, globalThis.location?.href).href;
    } catch {
      return Promise.reject(named("InputError", `invalid model URL ${JSON.stringify(String(url))}`));
    }
    return WorkerModel.start([href], options);
  }

  static fromBytes(modelJson, shards, options = {}) {
    const copies = shards.map((s) => new Uint8Array(s));
    return WorkerModel.start([modelJson, undefined, copies], options, copies.map((s) => s.buffer));
  }

  static async start([source, , shards], options, transfer = []) {
    const { pool, signal, onProgress, onDeviceLost, batching } = options;
    if (signal?.aborted) throw named("AbortError", `loading ${typeof source === "string" && !shards ? source : "the model"} was aborted`);
    const owned = !pool;
    const worker = owned ? new EngineWorker() : pool.pick();
    worker.models += 1;
    let loadId;
    const abort = () => worker.call("abort", [loadId, String(signal.reason ?? "aborted")]).catch(() => {});
    signal?.addEventListener("abort", abort, { once: true });
    try {
      const args = shards ? [source, cloneableOptions(options), shards] : [source, cloneableOptions(options)];
      const { key, info, build } = await worker.call("load", args, { transfer, onProgress, onId: (id) => (loadId = id) });
      return new WorkerModel(worker, key, info, build, { owned, onDeviceLost, batching, transferInput: options.transferInput });
    } catch (e) {
      worker.models -= 1;
      if (owned) worker.terminate();
      throw e;
    } finally {
      signal?.removeEventListener("abort", abort);
    }
  }

  constructor(worker, key, info, build, { owned, onDeviceLost, batching, transferInput }) {
    this.worker = worker;
    this.key = key;
    this.info = info;
    this.simdBuild = build;
    this.owned = owned;
    this.transferInput = Boolean(transferInput);
    worker.deviceLost.set(key, (message, latest) => {
      if (latest) this.info = latest;
      onDeviceLost?.(message);
    });
    this.batcher = batching ? new Batcher((input, shape) => this.run(input, shape), batching === true ? {} : batching) : null;
  }

  get inputs() {
    return this.info.inputs;
  }
  get outputs() {
    return this.info.outputs;
  }
  get backend() {
    return this.info.backend;
  }
  get adapter() {
    return this.info.adapter;
  }
  get backendReason() {
    return this.info.backendReason;
  }
  get cpuReason() {
    return this.info.cpuReason;
  }
  get sizeBytes() {
    return this.info.sizeBytes;
  }
  /** Batches and items run so far when `batching` is on. */
  get batching() {
    return this.batcher ? { batches: this.batcher.batches, items: this.batcher.items } : undefined;
  }

  predict(input, shape) {
    return this.batcher ? this.batcher.predict(input, shape) : this.run(input, shape);
  }

  run(input, shape) {
    if (this.freed) return Promise.reject(named("InputError", "this WorkerModel is freed"));
    const [packed, transfer] = packInput(input, this.transferInput);
    return this.worker.call("predict", [this.key, packed, shape ?? null], { transfer });
  }

  profile(input, shape, options) {
    if (this.freed) return Promise.reject(named("InputError", "this WorkerModel is freed"));
    const [packed, transfer] = packInput(input, this.transferInput);
    return this.worker.call("profile", [this.key, packed, shape ?? null, options], { transfer });
  }

  /** Frees the model in its worker; a worker this model started itself is terminated. */
  free() {
    if (this.freed) return;
    this.freed = true;
    this.worker.deviceLost.delete(this.key);
    this.worker.models -= 1;
    if (this.owned) this.worker.terminate();
    else this.worker.call("free", [this.key]).catch(() => {});
  }
}
