// Model lifecycle in the browser (doc: store.d.ts): versions from a `webinfer publish` repository, an offline store
// verified by sha256, background updates with an atomic switch, rollback, A/B splits, eviction and unloading.
import { Model } from "./webinfer.js";

const INDEX_KEY = ".webinfer-store.json";

function named(name, message, cause) {
  const error = new Error(message, cause === undefined ? undefined : { cause });
  error.name = name;
  return error;
}

function describe(e) {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function isQuotaError(e) {
  return e?.name === "QuotaExceededError" || e?.code === 22;
}

async function sha256Hex(bytes) {
  if (!globalThis.crypto?.subtle) {
    throw named("StoreError", "ModelStore needs crypto.subtle (a secure context: https or localhost) to verify models");
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function shardPaths(manifestText, where) {
  let manifest;
  try {
    manifest = JSON.parse(manifestText);
  } catch (e) {
    throw named("FormatError", `${where}: model.json is not JSON (${e.message})`);
  }
  const groups = Array.isArray(manifest?.weightsManifest) ? manifest.weightsManifest : [];
  return groups.flatMap((g) => (Array.isArray(g.paths) ? g.paths : []));
}

/** Where one version's files live, in the repository and in the store: `NAME/0001/`. */
function versionDir(name, dir) {
  return `${encodeURIComponent(name)}/${dir}/`;
}

/** Cache API storage: one cache per repository, entries keyed by their repository URL. */
class CacheBackend {
  constructor(base) {
    this.base = base;
    this.name = `webinfer-store ${base}`;
  }
  async open() {
    if (!globalThis.caches) throw named("StoreError", 'storage "cache": the Cache API is not available here');
    this.cache ??= await caches.open(this.name);
    return this.cache;
  }
  async get(key) {
    const response = await (await this.open()).match(new URL(key, this.base).href);
    return response ? new Uint8Array(await response.arrayBuffer()) : undefined;
  }
  async put(key, bytes) {
    await (await this.open()).put(new URL(key, this.base).href, new Response(bytes));
  }
  async delete(key) {
    await (await this.open()).delete(new URL(key, this.base).href);
  }
}

/** Origin Private File System storage: a directory per repository, one file per model file. */
class OpfsBackend {
  constructor(base) {
    this.base = base;
  }
  async root() {
    if (!navigator.storage?.getDirectory) throw named("StoreError", 'storage "opfs": the origin private file system is not available here');
    if (!this.dir) {
      const top = await (await navigator.storage.getDirectory()).getDirectoryHandle("webinfer-store", { create: true });
      this.dir = await top.getDirectoryHandle(encodeURIComponent(this.base), { create: true });
    }
    return this.dir;
  }
  async parent(key, create) {
    const parts = key.split("/");
    let dir = await this.root();
    for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part, { create });
    return [dir, parts.at(-1)];
  }
  async get(key) {
    try {
      const [dir, file] = await this.parent(key, false);
      const handle = await dir.getFileHandle(file);
      return new Uint8Array(await (await handle.getFile()).arrayBuffer());
    } catch (e) {
      if (e?.name === "NotFoundError") return undefined;
      throw e;
    }
  }
  async put(key, bytes) {
    const [dir, file] = await this.parent(key, true);
    const writable = await (await dir.getFileHandle(file, { create: true })).createWritable();
    try {
      await writable.write(bytes);
      await writable.close();
    } catch (e) {
      await writable.abort().catch(() => {});
      throw e;
    }
  }
  async delete(key) {
    try {
      const [dir, file] = await this.parent(key, false);
      await dir.removeEntry(file);
    } catch (e) {
      if (e?.name !== "NotFoundError") throw e;
    }
  }
}

/** Nothing persisted: verified downloads live as long as the store object. */
class MemoryBackend {
  constructor() {
    this.files = new Map();
  }
  async get(key) {
    return this.files.get(key);
  }
  async put(key, bytes) {
    this.files.set(key, bytes);
  }
  async delete(key) {
    this.files.delete(key);
  }
}

const BACKENDS = { cache: CacheBackend, opfs: OpfsBackend, none: MemoryBackend };

/** The version one bucket key falls on, deterministically: sha256(name, key) placed on the split's weights. */
async function pickFromSplit(name, split, bucket) {
  const entries = Object.entries(split)
    .map(([v, w]) => [Number(v), Number(w)])
    .sort((a, b) => a[0] - b[0]);
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  if (!entries.length || entries.some(([v, w]) => !Number.isInteger(v) || v < 1 || !(w >= 0)) || !(total > 0)) {
    throw named("InputError", `split ${JSON.stringify(split)}: expected {version: weight, …} with positive version numbers and weights`);
  }
  if (bucket === undefined || bucket === null || bucket === "") throw named("InputError", "split needs a bucket key (e.g. a user id)");
  const digest = await sha256Hex(new TextEncoder().encode(`${name}\u0000${bucket}`));
  const point = (parseInt(digest.slice(0, 8), 16) / 2 ** 32) * total;
  let edge = 0;
  for (const [version, weight] of entries) {
    edge += weight;
    if (point < edge) return version;
  }
  return entries.at(-1)[0];
}

/** One version running in a StoredModel; freed once it is replaced and its last prediction is done. */
class Running {
  constructor(model, version) {
    this.model = model;
    this.version = version;
    this.inFlight = 0;
    this.retired = false;
  }
  retire() {
    this.retired = true;
    if (this.inFlight === 0) this.free();
  }
  free() {
    if (this.freed) return;
    this.freed = true;
    this.model.free();
  }
}

/** A loaded model whose version the store can switch; see store.d.ts. */
export class StoredModel {
  constructor(store, name, running, source) {
    this.store = store;
    this.name = name;
    this.running = running;
    this.source = source;
    this.lastVersion = running.version;
  }
  get version() {
    return this.running?.version ?? this.lastVersion;
  }
  get model() {
    return this.running?.model;
  }
  get inputs() {
    return this.loaded().inputs;
  }
  get outputs() {
    return this.loaded().outputs;
  }
  get backend() {
    return this.loaded().backend;
  }
  get backendReason() {
    return this.loaded().backendReason;
  }
  get cpuReason() {
    return this.loaded().cpuReason;
  }
  get sizeBytes() {
    return this.loaded().sizeBytes;
  }
  loaded() {
    if (!this.running) throw named("StoreError", `model "${this.name}" is unloaded`);
    return this.running.model;
  }
  async predict(input, shape) {
    const running = this.running;
    if (!running) throw named("StoreError", `model "${this.name}" is unloaded`);
    running.inFlight += 1;
    try {
      const result = await running.model.predict(input, shape);
      result.version = running.version;
      return result;
    } finally {
      running.inFlight -= 1;
      if (running.retired && running.inFlight === 0) running.free();
    }
  }
  /** Model.profile on the running version. */
  profile(input, shape, options) {
    return this.loaded().profile(input, shape, options);
  }
  /** Switches to `running`: predictions already started finish on the old version, later ones use the new. */
  swap(running, source) {
    const old = this.running;
    this.running = running;
    this.source = source;
    this.lastVersion = running.version;
    if (old && old !== running) old.retire();
  }
  free() {
    this.store.unloadHandle(this);
  }
}

/** A model repository (`webinfer publish` layout) with an offline store; see store.d.ts. */
export class ModelStore {
  static async open(url, options = {}) {
    const { storage = "cache", fetch: fetchInit, timeoutMs } = options;
    if (!(storage in BACKENDS)) throw named("InputError", `unknown storage "${storage}"; use "cache", "opfs" or "none"`);
    let base;
    try {
      base = new URL(url, globalThis.location?.href);
    } catch {
      throw named("InputError", `invalid repository URL ${JSON.stringify(url)}`);
    }
    if (!base.pathname.endsWith("/")) base.pathname += "/";
    const store = new ModelStore(base.href, new BACKENDS[storage](base.href), { storage, fetchInit, timeoutMs });
    await store.readIndex();
    return store;
  }

  constructor(base, backend, options) {
    this.base = base;
    this.backend = backend;
    this.storage = options.storage;
    this.fetchInit = options.fetchInit ?? {};
    this.timeoutMs = options.timeoutMs;
    this.index = { models: {} };
    this.handles = new Map();
    this.staged = new Map();
    this.queue = Promise.resolve();
    this.evictions = [];
  }

  /** Runs `task` after every earlier index change, so concurrent calls never interleave their writes. */
  serialized(task) {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => {});
    return run;
  }

  async readIndex() {
    const bytes = await this.backend.get(INDEX_KEY);
    if (!bytes) return;
    try {
      const index = JSON.parse(new TextDecoder().decode(bytes));
      if (index && typeof index.models === "object") this.index = index;
    } catch {
      await this.backend.delete(INDEX_KEY);
    }
  }

  async writeIndex() {
    await this.backend.put(INDEX_KEY, new TextEncoder().encode(JSON.stringify(this.index)));
  }

  entry(name) {
    return (this.index.models[name] ??= { versions: {}, pinned: null });
  }

  async fetchBytes(url, what, { signal, onBytes, revalidate } = {}) {
    const signals = [signal, this.timeoutMs ? AbortSignal.timeout(this.timeoutMs) : undefined].filter(Boolean);
    const init = { ...(revalidate ? { cache: "no-cache" } : {}), ...this.fetchInit };
    let response;
    try {
      response = await fetch(url, { ...init, signal: signals.length ? AbortSignal.any(signals) : undefined });
    } catch (e) {
      throw named(e?.name === "AbortError" || e?.name === "TimeoutError" ? e.name : "IoError", `${what}: fetch ${url} failed: ${describe(e)}`, e);
    }
    if (!response.ok) throw named("IoError", `${what}: HTTP ${response.status} ${response.statusText} for ${url}`);
    if (!onBytes || !response.body) return new Uint8Array(await response.arrayBuffer());
    const chunks = [];
    let length = 0;
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        length += value.length;
        onBytes(value.length);
      }
    } catch (e) {
      throw named("IoError", `${what}: reading ${url} failed: ${describe(e)}`, e);
    }
    const bytes = new Uint8Array(length);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    return bytes;
  }

  /** versions.json from the network (revalidated with the server: it changes in place), `{name, latest, versions}`. */
  async versions(name, { signal } = {}) {
    const url = new URL(`${encodeURIComponent(name)}/versions.json`, this.base).href;
    const bytes = await this.fetchBytes(url, `versions of "${name}"`, { signal, revalidate: true });
    let list;
    try {
      list = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw named("FormatError", `${url}: not JSON (${e.message})`);
    }
    if (!Number.isInteger(list?.latest) || !Array.isArray(list?.versions)) {
      throw named("FormatError", `${url}: expected {"name", "latest", "versions": [...]}`);
    }
    return list;
  }

  /** The versions of `name` held in the store, newest first. */
  stored(name) {
    const versions = this.index.models[name]?.versions ?? {};
    return Object.values(versions).sort((a, b) => b.version - a.version);
  }

  /** Downloads one version, checks model.json against versions.json's sha256 and stores every file with its own. */
  async download(name, listed, { signal, onProgress } = {}) {
    const dir = versionDir(name, listed.dir);
    const where = `"${name}" version ${listed.version}`;
    let received = 0;
    const total = listed.bytes > 0 ? listed.bytes : 0;
    const onBytes = onProgress && total ? (n) => onProgress(Math.min(1, (received += n) / total)) : undefined;
    const modelJson = await this.fetchBytes(new URL(`${dir}model.json`, this.base).href, `${where} model.json`, { signal, onBytes });
    const jsonSha = await sha256Hex(modelJson);
    if (jsonSha !== listed.sha256) {
      throw named("IntegrityError", `${where}: model.json sha256 mismatch (versions.json says ${listed.sha256}, got ${jsonSha})`);
    }
    const paths = shardPaths(new TextDecoder().decode(modelJson), where);
    const shards = await Promise.all(paths.map((p) => this.fetchBytes(new URL(`${dir}${p}`, this.base).href, `${where} shard "${p}"`, { signal, onBytes })));
    const files = [["model.json", modelJson], ...paths.map((p, i) => [p, shards[i]])];
    const record = { version: listed.version, dir: listed.dir, sha256: listed.sha256, bytes: files.reduce((s, [, b]) => s + b.length, 0), files: {}, stored: new Date().toISOString() };
    for (const [path, bytes] of files) record.files[path] = await sha256Hex(bytes);
    onProgress?.(1);
    return { record, files, modelJson, shards };
  }

  /** Writes a downloaded version and then the index; on failure removes what it wrote and leaves the index as it was. */
  async save(name, { record, files }) {
    await this.serialized(async () => {
      const dir = versionDir(name, record.dir);
      const written = [];
      try {
        for (const [path, bytes] of files) {
          written.push(`${dir}${path}`);
          await this.backend.put(`${dir}${path}`, bytes);
        }
        const previous = JSON.stringify(this.index);
        this.entry(name).versions[record.version] = record;
        try {
          await this.writeIndex();
        } catch (e) {
          this.index = JSON.parse(previous);
          throw e;
        }
      } catch (e) {
        for (const key of written) await this.backend.delete(key).catch(() => {});
        const kept = this.stored(name).map((v) => v.version);
        const keptText = kept.length ? `; stored version(s) ${kept.join(", ")} are intact` : "";
        if (isQuotaError(e)) {
          throw named("QuotaExceededError", `storing "${name}" version ${record.version} (${record.bytes} bytes) exceeded the ${this.storage} storage quota${keptText}; free space with evict()`, e);
        }
        throw named("StoreError", `storing "${name}" version ${record.version} failed: ${describe(e)}${keptText}`, e);
      }
    });
  }

  /** A stored version's bytes, each file checked against its recorded sha256; a damaged version is evicted. */
  async readStored(name, version) {
    const record = this.index.models[name]?.versions?.[version];
    if (!record) return undefined;
    const dir = versionDir(name, record.dir);
    const files = [];
    for (const [path, sha] of Object.entries(record.files)) {
      const bytes = await this.backend.get(`${dir}${path}`);
      const got = bytes && (await sha256Hex(bytes));
      if (got !== sha) {
        await this.remove(name, version);
        const why = bytes ? `sha256 mismatch (stored ${sha}, read ${got})` : "missing";
        const message = `stored "${name}" version ${version}: ${path} is ${why}; evicted`;
        this.evictions.push(message);
        console.warn(`webinfer ModelStore: ${message}`);
        return undefined;
      }
      files.push(bytes);
    }
    return { record, modelJson: files[0], shards: files.slice(1) };
  }

  async remove(name, version) {
    await this.serialized(async () => {
      const record = this.index.models[name]?.versions?.[version];
      if (!record) return;
      delete this.index.models[name].versions[version];
      await this.writeIndex();
      const dir = versionDir(name, record.dir);
      for (const path of Object.keys(record.files)) await this.backend.delete(`${dir}${path}`).catch(() => {});
    });
  }

  /** The bytes of one version: from the store when intact, else downloaded (and stored). */
  async obtain(name, version, list, options) {
    const stored = await this.readStored(name, version);
    if (stored) return { ...stored, source: "store" };
    const listed = list?.versions.find((v) => v.version === version);
    if (!listed) {
      const why = list ? `versions.json lists ${list.versions.map((v) => v.version).join(", ") || "none"}` : "the repository cannot be reached and it is not stored";
      throw named("StoreError", `"${name}" version ${version} is not available: ${why}`);
    }
    const downloaded = await this.download(name, listed, options);
    await this.save(name, downloaded);
    return { ...downloaded, source: "network" };
  }

  async instantiate(name, got, loadOptions) {
    const model = await Model.fromBytes(got.modelJson, got.shards, loadOptions);
    return new Running(model, got.record.version);
  }

  /** Which version `load` runs: a number, the pinned one, an A/B pick, or `latest` (the newest stored one offline). */
  async resolve(name, options) {
    const { version = "latest", split, bucket, signal } = options;
    let list;
    let offline;
    try {
      list = await this.versions(name, { signal });
    } catch (e) {
      if (e.name === "AbortError") throw e;
      offline = e;
    }
    const pinned = this.index.models[name]?.pinned;
    if (Number.isInteger(version)) return { version, list };
    if (version !== "latest") throw named("InputError", `version ${JSON.stringify(version)}: use "latest" or a version number`);
    if (split) return { version: await pickFromSplit(name, split, bucket), list };
    if (pinned) return { version: pinned, list };
    if (list) return { version: list.latest, list };
    const newest = this.stored(name)[0];
    if (!newest) throw named("IoError", `"${name}": the repository cannot be reached and no version is stored (${describe(offline)})`, offline);
    return { version: newest.version, list, offline };
  }

  /** Loads `name` (see store.d.ts): the version asked for, from the store when it holds it intact. */
  async load(name, options = {}) {
    const { version: _v, split: _s, bucket: _b, ...loadOptions } = options;
    let { version, list, offline } = await this.resolve(name, options);
    let got;
    for (;;) {
      try {
        got = await this.obtain(name, version, list, options);
        break;
      } catch (e) {
        const older = offline && this.stored(name).find((v) => v.version < version);
        if (!older) throw e;
        version = older.version;
      }
    }
    const running = await this.instantiate(name, got, loadOptions);
    const handle = new StoredModel(this, name, running, got.source);
    handle.loadOptions = loadOptions;
    this.handles.get(name)?.free();
    this.handles.set(name, handle);
    this.touch(name);
    return handle;
  }

  touch(name) {
    this.serialized(async () => {
      this.entry(name).lastUsed = new Date().toISOString();
      await this.writeIndex();
    }).catch(() => {});
  }

  /** Looks for a newer `latest`; when there is one, downloads, verifies, stores and warms it up for upgrade(). */
  async checkForUpdate(name, { onProgress, signal } = {}) {
    const handle = this.handles.get(name);
    const list = await this.versions(name, { signal });
    const current = handle?.version;
    const pinned = this.index.models[name]?.pinned;
    if (pinned || list.latest === current) return null;
    const staged = this.staged.get(name);
    if (staged?.version === list.latest) return { version: list.latest, current, ready: true };
    const got = await this.obtain(name, list.latest, list, { onProgress, signal });
    const running = await this.instantiate(name, got, handle?.loadOptions ?? {});
    this.staged.get(name)?.free();
    this.staged.set(name, running);
    return { version: list.latest, current, ready: true };
  }

  /** Switches the loaded model to the version checkForUpdate() prepared; resolves to that version. */
  async upgrade(name) {
    const running = this.staged.get(name);
    if (!running) throw named("StoreError", `"${name}": no update is ready; call checkForUpdate() first`);
    this.staged.delete(name);
    const handle = this.handles.get(name);
    if (!handle) {
      running.free();
      throw named("StoreError", `"${name}" is not loaded`);
    }
    handle.swap(running, "network");
    return running.version;
  }

  /** Back to the newest stored version older than the running one, offline too, and pinned there until unpin(). */
  async rollback(name) {
    const handle = this.handles.get(name);
    if (!handle) throw named("StoreError", `"${name}" is not loaded`);
    let got;
    for (const candidate of this.stored(name).filter((v) => v.version < handle.version)) {
      got = await this.readStored(name, candidate.version);
      if (got) break;
    }
    if (!got) throw named("StoreError", `"${name}": no stored version older than ${handle.version} to roll back to`);
    const running = await this.instantiate(name, got, handle.loadOptions);
    this.staged.get(name)?.free();
    this.staged.delete(name);
    handle.swap(running, "store");
    await this.pin(name, running.version);
    return running.version;
  }

  async pin(name, version) {
    this.entry(name).pinned = version;
    await this.serialized(() => this.writeIndex());
  }

  /** Pinned version of `name` (set by rollback), or null. */
  pinned(name) {
    return this.index.models[name]?.pinned ?? null;
  }

  /** Lets `latest` mean the repository's latest again. */
  async unpin(name) {
    await this.pin(name, null);
  }

  /** Removes stored versions of `name` beyond the newest `keep`, never the running or pinned one; resolves to those removed. */
  async evict(name, { keep = 2 } = {}) {
    const spare = new Set([this.handles.get(name)?.version, this.staged.get(name)?.version, this.pinned(name)]);
    const removed = [];
    for (const record of this.stored(name).slice(keep)) {
      if (spare.has(record.version)) continue;
      await this.remove(name, record.version);
      removed.push(record.version);
    }
    return removed;
  }

  /** Stored bytes per model and version, with the origin's estimate where the browser gives one. */
  async usage() {
    const models = {};
    let bytes = 0;
    for (const name of Object.keys(this.index.models)) {
      for (const record of this.stored(name)) {
        (models[name] ??= {})[record.version] = record.bytes;
        bytes += record.bytes;
      }
    }
    const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
    return { models, bytes, quota: estimate?.quota, originUsage: estimate?.usage };
  }

  /** Frees the loaded model of `name` (and any update staged for it); its stored bytes stay. */
  unload(name) {
    const handle = this.handles.get(name);
    if (handle) this.unloadHandle(handle);
    this.staged.get(name)?.free();
    this.staged.delete(name);
  }

  unloadHandle(handle) {
    if (this.handles.get(handle.name) === handle) this.handles.delete(handle.name);
    handle.running?.retire();
    handle.running = null;
  }
}
