// The ModelStore test page's steps (store.test.mjs drives them in Chromium and Firefox): each resolves to plain
// JSON, so a WebDriver session can call it as `await window.steps.name(args)`.
import init, { Model } from "/pkg/index.js";
import { ModelStore } from "/pkg/store.js";

const REPO = new URLSearchParams(location.search).get("repo");
const NAME = "mnist";
let store;
let model;
let references;

const describe = (e) => ({ name: e?.name, message: e?.message });

async function directOutputs(version, digits) {
  const direct = await Model.load(`${REPO}${NAME}/${String(version).padStart(4, "0")}/model.json`, { backend: "cpu" });
  try {
    return Array.from((await direct.predict(new Float32Array(digits), [digits.length / 784, 28, 28, 1])).data);
  } finally {
    direct.free();
  }
}

/** Which versions' direct outputs a store prediction matches exactly (it must be exactly one: its own). */
function matching(data, references) {
  return Object.entries(references)
    .filter(([, want]) => want.length === data.length && want.every((w, i) => w === data[i]))
    .map(([v]) => Number(v));
}

window.steps = {
  async open(storage) {
    store = await ModelStore.open(REPO, { storage });
    return { base: store.base, stored: store.stored(NAME).map((v) => v.version), pinned: store.pinned(NAME) };
  },
  async load(options = {}) {
    try {
      model?.free();
      model = await store.load(NAME, { backend: "cpu", ...options });
      return { version: model.version, source: model.source, evictions: store.evictions, stored: store.stored(NAME).map((v) => v.version) };
    } catch (e) {
      return { error: describe(e), stored: store.stored(NAME).map((v) => v.version) };
    }
  },
  async predict(digits) {
    const out = await model.predict(new Float32Array(digits), [digits.length / 784, 28, 28, 1]);
    return { version: out.version, data: Array.from(out.data), shape: out.shape };
  },
  /** Each version's outputs, loaded directly with Model.load; kept here too, so the page compares exact floats. */
  async references(digits, versions) {
    references = Object.fromEntries(await Promise.all(versions.map(async (v) => [v, await directOutputs(v, digits)])));
    return references;
  },
  /** Three loops predict while an update is found, downloaded and switched to, and one prediction is started
   * just before the switch; reports every result's version (in the order the predictions started) and whether it matches that version's outputs. */
  async upgradeUnderLoad(digits, total) {
    const seen = [];
    const failures = [];
    const mismatched = [];
    let done = 0;
    let started = 0;
    const check = (out, i) => {
      const got = matching(out.data, references);
      if (got.length !== 1 || got[0] !== out.version) mismatched.push({ i, version: out.version, matches: got });
    };
    const shape = [digits.length / 784, 28, 28, 1];
    const worker = async (lane) => {
      for (let i = lane; i < total; i += 3) {
        const seq = started++;
        try {
          const out = await model.predict(new Float32Array(digits), shape);
          check(out, i);
          seen.push([seq, out.version]);
        } catch (e) {
          failures.push(describe(e));
        }
        done += 1;
        await new Promise((r) => setTimeout(r, 0));
      }
    };
    const loops = Promise.all([0, 1, 2].map(worker));
    while (done < total / 3) await new Promise((r) => setTimeout(r, 1));
    const update = await store.checkForUpdate(NAME);
    started++;
    const inFlight = model.predict(new Float32Array(digits), shape);
    const upgradedTo = await store.upgrade(NAME);
    const upgradedAt = done;
    const last = await inFlight.catch((e) => ({ error: describe(e) }));
    if (last.error) failures.push(last.error);
    else check(last, -1);
    await loops;
    seen.sort((a, b) => a[0] - b[0]);
    return { update, upgradedTo, upgradedAt, seen: seen.map(([, v]) => v), failures, mismatched, inFlightVersion: last.version, version: model.version };
  },
  async checkForUpdate() {
    try {
      return await store.checkForUpdate(NAME);
    } catch (e) {
      return { error: describe(e) };
    }
  },
  async rollback() {
    try {
      return { version: await store.rollback(NAME), pinned: store.pinned(NAME), current: model.version };
    } catch (e) {
      return { error: describe(e) };
    }
  },
  async unpin() {
    await store.unpin(NAME);
    return store.pinned(NAME);
  },
  /** Flips one byte of a stored shard, below the store, as disk damage would. */
  async corrupt(version) {
    const record = store.stored(NAME).find((v) => v.version === version);
    const shard = Object.keys(record.files).find((p) => p !== "model.json");
    const key = `${NAME}/${record.dir}/${shard}`;
    const bytes = await store.backend.get(key);
    bytes[bytes.length >> 1] ^= 0x40;
    await store.backend.put(key, bytes);
    return shard;
  },
  /** Makes the storage refuse the next version's files as a full disk would (QuotaExceededError), then tries it. */
  async loadOverQuota(version) {
    await store.remove(NAME, version);
    const put = store.backend.put.bind(store.backend);
    store.backend.put = async (key, bytes) => {
      if (key.includes(`/${String(version).padStart(4, "0")}/`) && !key.endsWith("model.json")) {
        throw new DOMException("simulated: the quota is exhausted", "QuotaExceededError");
      }
      return put(key, bytes);
    };
    try {
      return await window.steps.load({ version });
    } finally {
      store.backend.put = put;
    }
  },
  async abPicks(buckets, split) {
    const picks = {};
    for (const bucket of buckets) {
      const m = await store.load(NAME, { backend: "cpu", split, bucket, warmUp: false });
      picks[bucket] = m.version;
      m.free();
    }
    return picks;
  },
  async usage() {
    return store.usage();
  },
  async evict(keep) {
    return { removed: await store.evict(NAME, { keep }), stored: store.stored(NAME).map((v) => v.version) };
  },
};

await init();
document.getElementById("ready").textContent = "ready";
