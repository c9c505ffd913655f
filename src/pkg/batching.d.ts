/**
 * Request batching, TF Serving's batching scheduler in the page: concurrent predict calls with the same per-item
 * shape merge into one batched run (at most `maxBatch` items, waiting at most `maxDelayMs` after the first), and
 * each caller gets exactly its own rows back. The model's outputs must have the batch as their first dimension.
 */
import type { TensorData } from "./webinfer.js";

export interface BatchingOptions {
  /** The most items one run takes (default 32). */
  maxBatch?: number;
  /** The longest a queued call waits for others, in ms (default 2). */
  maxDelayMs?: number;
}

/** Batches and items run so far. */
export interface BatchingStats {
  batches: number;
  items: number;
}

/** Anything with Model's predict. */
export interface Predictor {
  predict(input: Float32Array | number[], shape?: number[]): Promise<TensorData | Record<string, TensorData>>;
}

/** Queues predictions and runs them in batches; `run` is the model's own predict. */
export class Batcher {
  constructor(run: (input: Float32Array, shape: number[]) => Promise<TensorData | Record<string, TensorData>>, options?: BatchingOptions);
  readonly batches: number;
  readonly items: number;
  /** `shape[0]` items; a call that cannot merge (no shape, more rows than maxBatch, a length that does not fit
   * its shape) runs on its own. */
  predict(input: Float32Array | number[], shape: number[]): Promise<TensorData | Record<string, TensorData>>;
}

/** The model, with a predict that batches concurrent calls and a `batching` counter. */
export function withBatching<M extends Predictor>(model: M, options?: BatchingOptions): M & { readonly batching: BatchingStats };
