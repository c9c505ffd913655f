/**
 * Model lifecycle in the browser, over a repository that `webinfer publish` writes (`REPO/NAME/versions.json`,
 * `REPO/NAME/0001/model.json` + shards): versions, an offline store verified by sha256, background updates with an
 * atomic switch, rollback, A/B splits, eviction and unloading. Import it from "webinfer/store.js"; call the
 * package's `init()` first.
 */
import type { LoadOptions, Model, Profile, ProfileOptions, TensorData } from "./webinfer.js";

/** Where verified model files are kept: the Cache API (default), the origin private file system (large models),
 * or nowhere (memory only, for this store object's life). */
export type StoreStorage = "cache" | "opfs" | "none";

/** Options of ModelStore.open. */
export interface StoreOptions {
  storage?: StoreStorage;
  /** Passed to every fetch() (headers, credentials, ...). */
  fetch?: RequestInit;
  /** The most one request (versions.json or one file) may take, in ms. */
  timeoutMs?: number;
}

/** One entry of versions.json. */
export interface PublishedVersion {
  version: number;
  /** Its directory under the model's: "0001". */
  dir: string;
  /** sha256 of its model.json, lowercase hex. */
  sha256: string;
  /** Bytes of model.json and every shard. */
  bytes: number;
  /** When it was published, RFC 3339 UTC. */
  created: string;
}

/** versions.json. */
export interface VersionList {
  name: string;
  latest: number;
  versions: PublishedVersion[];
}

/** A version held in the store. */
export interface StoredVersion {
  version: number;
  dir: string;
  sha256: string;
  bytes: number;
  /** sha256 of each stored file, checked on every read. */
  files: Record<string, string>;
  /** When it was stored, RFC 3339. */
  stored: string;
}

/** Options of ModelStore.load: which version, plus Model.load's options. */
export interface StoreLoadOptions extends LoadOptions {
  /** "latest" (default: the pinned version if rollback() pinned one, else versions.json's latest, else offline the
   * newest stored version) or a version number. */
  version?: "latest" | number;
  /** A/B split, version → weight (`{1: 0.9, 2: 0.1}`): the version is picked from sha256(name, bucket), so one
   * bucket key always gets the same version. */
  split?: Record<number, number>;
  /** The key `split` buckets by, e.g. a user id. */
  bucket?: string;
}

/** A prediction, with the version that computed it. */
export type StoredPrediction = (TensorData | Record<string, TensorData>) & { version: number };

/** What checkForUpdate() found: a newer version, downloaded, verified, stored and warmed up. */
export interface UpdateReady {
  version: number;
  /** The version running now (undefined when the name is not loaded). */
  current: number | undefined;
  ready: true;
}

/** Stored bytes: per model and version, their sum, and the origin's estimate where the browser gives one. */
export interface StoreUsage {
  models: Record<string, Record<number, number>>;
  bytes: number;
  quota: number | undefined;
  originUsage: number | undefined;
}

/** A loaded model whose version the store can switch under it (upgrade, rollback). */
export class StoredModel {
  readonly name: string;
  /** The version new predictions run on. */
  readonly version: number;
  /** Where its bytes came from: "network" (downloaded, then stored) or "store". */
  readonly source: "network" | "store";
  /** The running Model (undefined once unloaded). */
  readonly model: Model | undefined;
  readonly inputs: Model["inputs"];
  readonly outputs: Model["outputs"];
  readonly backend: string;
  readonly backendReason: string;
  readonly cpuReason: string | undefined;
  readonly sizeBytes: number;
  /** Model.predict on the version running when it is called; the result carries that `version`. A prediction in
   * flight during upgrade() or rollback() finishes on the version it started on. */
  predict(input: Float32Array | number[] | Record<string, { data: Float32Array | number[]; shape: number[] }>, shape?: number[]): Promise<StoredPrediction>;
  /** Model.profile on the running version. */
  profile(input: Float32Array | number[] | Record<string, TensorData>, shape?: number[], options?: ProfileOptions): Promise<Profile>;
  /** Unloads it (as store.unload(name)). */
  free(): void;
}

/** A model repository and its offline store. Errors have a stable `name`: the Model ones (IoError, FormatError, …)
 * plus IntegrityError (a download whose model.json does not match versions.json), QuotaExceededError (storing a
 * version did not fit; nothing stored before is touched) and StoreError (a version that is neither reachable nor
 * stored, no update ready, nothing to roll back to). */
export class ModelStore {
  /** The repository at `url` (the directory holding NAME/versions.json). Reads the store's index; fetches nothing. */
  static open(url: string | URL, options?: StoreOptions): Promise<ModelStore>;
  readonly base: string;
  readonly storage: StoreStorage;
  /** One message per stored version found damaged (a file missing or failing its sha256) and evicted. */
  readonly evictions: string[];
  /** versions.json of `name`, from the network. */
  versions(name: string, options?: { signal?: AbortSignal }): Promise<VersionList>;
  /** The versions of `name` held in the store, newest first. */
  stored(name: string): StoredVersion[];
  /** Loads a version (see StoreLoadOptions). A stored version is verified file by file; a damaged one is evicted
   * and downloaded again, never run. Offline, the newest intact stored version loads. Loading a name again
   * unloads its previous model. */
  load(name: string, options?: StoreLoadOptions): Promise<StoredModel>;
  /** Reads versions.json; when its latest differs from the running version (and nothing is pinned), downloads,
   * verifies, stores and warms the new version up in the background, then resolves to it; null when there is
   * nothing to do. */
  checkForUpdate(name: string, options?: { onProgress?: (fraction: number) => void; signal?: AbortSignal }): Promise<UpdateReady | null>;
  /** Switches the loaded model to the version checkForUpdate() prepared, atomically; resolves to it. */
  upgrade(name: string): Promise<number>;
  /** Switches to the newest stored version older than the running one (offline too) and pins it; resolves to it. */
  rollback(name: string): Promise<number>;
  /** The version rollback() pinned, or null. */
  pinned(name: string): number | null;
  /** Lets "latest" mean versions.json's latest again. */
  unpin(name: string): Promise<void>;
  /** Removes stored versions beyond the newest `keep` (default 2), never the running, staged or pinned one;
   * resolves to the versions removed. */
  evict(name: string, options?: { keep?: number }): Promise<number[]>;
  usage(): Promise<StoreUsage>;
  /** Frees the loaded model of `name` and any update staged for it; its stored bytes stay. */
  unload(name: string): void;
}
