/**
 * Off the main thread: WorkerModel has Model's API, with the engine in a dedicated Web Worker that the package
 * starts itself (engine-worker.js beside this file; bundlers that understand `new Worker(new URL(…,
 * import.meta.url))`, such as Vite and webpack 5, emit it). Inputs and outputs cross as transferred buffers;
 * errors keep their `name` and message. Call the package's `init()` only if the page itself runs models too.
 */
import type { LoadOptions, Profile, ProfileOptions, TensorData, TensorInfo } from "./webinfer.js";
import type { BatchingOptions, BatchingStats } from "./batching.js";

/** Model.load's options, plus where the model runs and how predict calls are batched. */
export interface WorkerLoadOptions extends LoadOptions {
  /** Share these workers with other models; without one, the model gets its own worker, ended by free(). */
  pool?: WorkerPool;
  /** Merge concurrent predict calls into batched runs (true: maxBatch 32, maxDelayMs 2). */
  batching?: boolean | BatchingOptions;
  /** Hand the caller's Float32Array inputs over to the worker instead of copying them (they become detached). */
  transferInput?: boolean;
}

/** A few engine workers that models share; each load goes to the worker holding the fewest models. */
export class WorkerPool {
  constructor(size?: number);
  readonly size: number;
  /** Ends every worker, and every model in them. */
  terminate(): void;
}

export type WorkerInput = Float32Array | number[] | Record<string, TensorData>;

/** Model's API, with the engine in a Web Worker. */
export class WorkerModel {
  static load(url: string | URL, options?: WorkerLoadOptions): Promise<WorkerModel>;
  static fromBytes(modelJson: string | Uint8Array, shards: Uint8Array[], options?: WorkerLoadOptions): Promise<WorkerModel>;
  readonly inputs: TensorInfo[];
  readonly outputs: TensorInfo[];
  readonly backend: string;
  readonly adapter: string | undefined;
  readonly backendReason: string;
  readonly cpuReason: string | undefined;
  readonly sizeBytes: number;
  /** The wasm build the worker runs: "relaxed-simd" or "simd128". */
  readonly simdBuild: string;
  /** Batches and items run so far, when `batching` is on. */
  readonly batching: BatchingStats | undefined;
  predict(input: WorkerInput, shape?: number[]): Promise<TensorData | Record<string, TensorData>>;
  profile(input: WorkerInput, shape?: number[], options?: ProfileOptions): Promise<Profile>;
  /** Frees the model in its worker; a worker this model started itself is terminated. */
  free(): void;
}
