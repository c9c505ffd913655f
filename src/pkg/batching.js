// Request batching (doc: batching.d.ts): concurrent predict calls with the same per-item shape merge into one
// batched run, TF Serving's batching scheduler in the page.

function named(name, message) {
  const error = new Error(message);
  error.name = name;
  return error;
}

function sameShape(a, b) {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Splits one batched result (TensorData, or a record of them) back into each caller's rows. */
function splitRows(result, counts) {
  const split = (tensor) => {
    const [total, ...rest] = tensor.shape;
    const width = rest.reduce((a, b) => a * b, 1);
    let row = 0;
    return counts.map((n) => {
      const part = { data: tensor.data.slice(row * width, (row + n) * width), shape: [n, ...rest] };
      row += n;
      if (row > total) throw named("ShapeError", `batching: the output has ${total} rows, fewer than the ${row} items asked for`);
      return part;
    });
  };
  if (result.data instanceof Float32Array) return split(result);
  const names = Object.keys(result).filter((k) => result[k]?.data instanceof Float32Array);
  const parts = Object.fromEntries(names.map((n) => [n, split(result[n])]));
  return counts.map((_, i) => Object.fromEntries(names.map((n) => [n, parts[n][i]])));
}

/** Queues predictions and runs them in batches of at most `maxBatch` items, waiting at most `maxDelayMs` after the
 * first queued one; `run(input, shape)` is the model's own predict. */
export class Batcher {
  constructor(run, { maxBatch = 32, maxDelayMs = 2 } = {}) {
    if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) throw named("InputError", `batching.maxBatch ${maxBatch}: expected an integer ≥ 1`);
    if (!(maxDelayMs >= 0)) throw named("InputError", `batching.maxDelayMs ${maxDelayMs}: expected a number ≥ 0`);
    this.run = run;
    this.maxBatch = maxBatch;
    this.maxDelayMs = maxDelayMs;
    this.queue = [];
    this.timer = 0;
    this.batches = 0;
    this.items = 0;
  }

  /** Like predict(input, shape) with `shape[0]` items; a call that cannot merge (several named inputs, no shape,
   * more rows than maxBatch, a length that does not fit the shape) runs on its own. */
  predict(input, shape) {
    const plain = (input instanceof Float32Array || Array.isArray(input)) && Array.isArray(shape) && shape.length >= 1;
    if (!plain || shape[0] > this.maxBatch || input.length !== shape.reduce((a, b) => a * b, 1)) return this.run(input, shape);
    return new Promise((resolve, reject) => {
      this.queue.push({ input, shape, resolve, reject });
      const queued = this.queue.reduce((n, q) => n + (sameShape(q.shape.slice(1), shape.slice(1)) ? q.shape[0] : 0), 0);
      if (queued >= this.maxBatch) this.flush();
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.maxDelayMs);
    });
  }

  /** Runs what is queued now: the oldest request's per-item shape first, up to maxBatch items per run. */
  flush() {
    clearTimeout(this.timer);
    this.timer = 0;
    while (this.queue.length) {
      const item = this.queue[0].shape.slice(1);
      const batch = [];
      let rows = 0;
      this.queue = this.queue.filter((q) => {
        if (!sameShape(q.shape.slice(1), item) || rows + q.shape[0] > this.maxBatch) return true;
        batch.push(q);
        rows += q.shape[0];
        return false;
      });
      this.dispatch(batch, rows, item);
    }
  }

  async dispatch(batch, rows, item) {
    this.batches += 1;
    this.items += rows;
    if (batch.length === 1) {
      const [{ input, shape, resolve, reject }] = batch;
      return this.run(input, shape).then(resolve, reject);
    }
    const width = item.reduce((a, b) => a * b, 1);
    const merged = new Float32Array(rows * width);
    let at = 0;
    for (const { input, shape } of batch) {
      merged.set(input, at);
      at += shape[0] * width;
    }
    try {
      const result = await this.run(merged, [rows, ...item]);
      const parts = splitRows(result, batch.map((q) => q.shape[0]));
      batch.forEach((q, i) => q.resolve(parts[i]));
    } catch (e) {
      for (const q of batch) q.reject(e);
    }
  }
}

/** Wraps a model (Model, WorkerModel, StoredModel) so its predict batches concurrent calls; the rest is the model. */
export function withBatching(model, options) {
  const batcher = new Batcher((input, shape) => model.predict(input, shape), options);
  return new Proxy(model, {
    get(target, key) {
      if (key === "predict") return (input, shape) => batcher.predict(input, shape);
      if (key === "batching") return { batches: batcher.batches, items: batcher.items };
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
