// The ModelStore (pkg/store.js) over a repository the real `webinfer publish` writes, in headless Chromium
// (Playwright) and Firefox ESR (geckodriver): publish two versions and load latest; upgrade while predictions run
// (none fails, each result matches exactly the version it names); rollback online and offline; reload with the
// network down (the server closes those connections unanswered) loads from the store; a flipped byte in a stored
// shard is caught, evicted and refetched; a quota error leaves the older version intact; an A/B split keeps each
// bucket on its version across reloads. Cache API storage throughout, and the OPFS backend for load/reload/corruption.
// Needs pkg/ (`make pkg`) and target/release/webinfer (`make build`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { serve, launch, firefox, ROOT, OUT_DIR } from "./harness.mjs";

const WEBINFER = join(ROOT, "target/release/webinfer");
const cli = (...args) => execFileSync(WEBINFER, args, { cwd: ROOT, encoding: "utf8" });

function npy(path) {
  const bytes = readFileSync(join(ROOT, path));
  const headerLen = bytes.readUInt16LE(8);
  const body = bytes.subarray(10 + headerLen);
  const header = bytes.subarray(10, 10 + headerLen).toString("latin1");
  const copy = new Uint8Array(body).buffer;
  return Array.from(header.includes("'<f4'") ? new Float32Array(copy) : new Uint16Array(copy));
}

const DIGITS = 4;
const digits = npy("tests/fixtures/mnist/heldout_x_milli.npy").slice(0, DIGITS * 784).map((v) => v / 1000);
const mlpOrt = npy("tests/fixtures/mnist/mlp_ort_first64.npy").slice(0, DIGITS * 10);

/** A fresh repository for one browser: the MLP as version 1, the float16 CNN as version 2, latest kept at 1. */
function publishRepo(tag) {
  const dir = join(OUT_DIR, `store-repo-${tag}`);
  rmSync(dir, { recursive: true, force: true });
  const model = join(dir, "mnist");
  cli("publish", "tests/fixtures/mnist/mnist_mlp.onnx", model);
  cli("publish", "tests/fixtures/mnist/mnist_cnn.onnx", model, "--quantize", "float16", "--latest", "1");
  return { url: `/tests/out/store-repo-${tag}/`, model, versions: () => JSON.parse(readFileSync(join(model, "versions.json"), "utf8")) };
}

async function chromiumDriver() {
  const context = await launch({ webgpu: false });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.error(`Chromium page error: ${e.message}`));
  return {
    name: "Chromium",
    async goto(url) {
      await page.goto(url);
      await page.waitForFunction(() => document.getElementById("ready").textContent === "ready", null, { timeout: 30000 });
    },
    step: (name, ...args) => page.evaluate(([name, args]) => window.steps[name](...args), [name, args]),
    close: () => context.close(),
  };
}

async function firefoxDriver() {
  const { session, quit } = await firefox();
  await session("POST", "/timeouts", { script: 300000 });
  return {
    name: "Firefox",
    async goto(url) {
      await session("POST", "/url", { url });
      for (let i = 0; i < 300; i++) {
        if (await session("POST", "/execute/sync", { script: "return document.getElementById('ready').textContent === 'ready'", args: [] })) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("Firefox: the store page did not get ready");
    },
    async step(name, ...args) {
      const script = "const done = arguments[arguments.length - 1]; window.steps[arguments[0]](...arguments[1]).then(done, (e) => done({ thrown: `${e.name}: ${e.message}` }));";
      const value = await session("POST", "/execute/async", { script, args: [name, args] });
      if (value?.thrown) throw new Error(`Firefox step ${name}: ${value.thrown}`);
      return value;
    },
    close: quit,
  };
}

async function lifecycle(makeDriver, tag) {
  const repo = publishRepo(tag);
  const server = await serve(".", { control: true });
  const driver = await makeDriver();
  const where = (what) => `${driver.name}: ${what}`;
  const page = `${server.url}tests/page/store.html?repo=${encodeURIComponent(repo.url)}`;
  const network = async (up) => {
    const response = await fetch(`${server.url}__control/drop?prefix=${up ? "" : encodeURIComponent(repo.url)}`);
    assert.equal(response.status, 204);
  };
  try {
    await driver.goto(page);
    await driver.step("open", "cache");
    let loaded = await driver.step("load");
    assert.deepEqual([loaded.version, loaded.source], [1, "network"], where("latest (1) downloads"));
    const references = await driver.step("references", digits, [1, 2]);
    const first = await driver.step("predict", digits);
    assert.equal(first.version, 1);
    assert.deepEqual(first.data, references[1], where("the store's version 1 computes what version 1 loaded directly does"));
    assert.ok(first.data.every((v, i) => Math.abs(v - mlpOrt[i]) < 1e-5), where("version 1 (the MLP) matches onnxruntime"));
    assert.ok(references[2].some((v, i) => Math.abs(v - references[1][i]) > 1e-3), "the two versions are distinguishable");

    cli("promote", repo.model, "2");
    const run = await driver.step("upgradeUnderLoad", digits, 120);
    assert.deepEqual(run.failures, [], where("no prediction fails across the upgrade"));
    assert.deepEqual(run.mismatched, [], where("every result matches exactly the version it reports"));
    assert.deepEqual([run.update.version, run.update.current, run.upgradedTo, run.version], [2, 1, 2, 2]);
    assert.equal(run.inFlightVersion, 1, where("a prediction started before the switch finishes on version 1"));
    const firstTwo = run.seen.indexOf(2);
    assert.ok(firstTwo > 0 && run.seen.slice(firstTwo).every((v) => v === 2) && run.seen.slice(0, firstTwo).every((v) => v === 1), where(`versions in order: ${run.seen.join("")}`));
    console.log(`${driver.name}: ${run.seen.length + 1} predictions from 3 loops across the upgrade, ${firstTwo} on version 1 then ${run.seen.length - firstTwo} on version 2 (switched after ${run.upgradedAt}), 0 failures, 0 mixed`);
    assert.equal(await driver.step("checkForUpdate"), null, where("nothing newer than 2"));

    let back = await driver.step("rollback");
    assert.deepEqual([back.version, back.pinned, back.current], [1, 1, 1], where("rollback online"));
    assert.equal((await driver.step("predict", digits)).version, 1);
    await driver.goto(page);
    assert.equal((await driver.step("open", "cache")).pinned, 1, where("the pin survives a reload"));
    loaded = await driver.step("load");
    assert.deepEqual([loaded.version, loaded.source], [1, "store"], where("pinned 1 loads from the store"));
    assert.equal(await driver.step("unpin"), null);

    await network(false);
    await driver.goto(page);
    const opened = await driver.step("open", "cache");
    assert.deepEqual(opened.stored, [2, 1]);
    loaded = await driver.step("load");
    assert.deepEqual([loaded.version, loaded.source], [2, "store"], where("offline, the newest stored version loads"));
    assert.deepEqual((await driver.step("predict", digits)).data, references[2]);
    back = await driver.step("rollback");
    assert.deepEqual([back.version, back.current], [1, 1], where("rollback offline"));
    assert.deepEqual((await driver.step("predict", digits)).data, references[1]);
    assert.equal((await driver.step("checkForUpdate")).error.name, "IoError", where("an update check offline says why"));
    await network(true);
    await driver.step("unpin");

    const shard = await driver.step("corrupt", 2);
    loaded = await driver.step("load", { version: 2 });
    assert.deepEqual([loaded.version, loaded.source], [2, "network"], where("a damaged stored version is refetched"));
    assert.equal(loaded.evictions.length, 1);
    assert.match(loaded.evictions[0], new RegExp(`version 2: ${shard} is sha256 mismatch`));
    assert.deepEqual((await driver.step("predict", digits)).data, references[2], where("the refetched version 2 runs correctly"));

    const over = await driver.step("loadOverQuota", 2);
    assert.equal(over.error?.name, "QuotaExceededError", where(JSON.stringify(over)));
    assert.match(over.error.message, /version 2 .* exceeded the cache storage quota; stored version\(s\) 1 are intact/);
    assert.deepEqual(over.stored, [1]);
    loaded = await driver.step("load", { version: 1 });
    assert.deepEqual([loaded.version, loaded.source], [1, "store"], where("the older version is intact after the quota error"));
    assert.deepEqual((await driver.step("predict", digits)).data, references[1]);

    const buckets = Array.from({ length: 16 }, (_, i) => `user-${i}`);
    const split = { 1: 0.5, 2: 0.5 };
    const picks = await driver.step("abPicks", buckets, split);
    await driver.goto(page);
    await driver.step("open", "cache");
    assert.deepEqual(await driver.step("abPicks", buckets, split), picks, where("each bucket keeps its version across reloads"));
    const counts = Object.values(picks).reduce((c, v) => ({ ...c, [v]: (c[v] ?? 0) + 1 }), {});
    assert.ok(counts[1] > 0 && counts[2] > 0, where(`both arms are used: ${JSON.stringify(counts)}`));
    console.log(`${driver.name}: A/B {1: 0.5, 2: 0.5} over 16 buckets: ${JSON.stringify(counts)}, the same after a reload`);

    const usage = await driver.step("usage");
    const published = Object.fromEntries(repo.versions().versions.map((v) => [v.version, v.bytes]));
    assert.deepEqual(usage.models.mnist, published, where("usage() per version equals versions.json's bytes"));
    assert.deepEqual(await driver.step("evict", 1), { removed: [1], stored: [2] });

    await driver.step("open", "opfs");
    loaded = await driver.step("load");
    assert.deepEqual([loaded.version, loaded.source], [2, "network"], where("opfs: first load downloads"));
    await driver.goto(page);
    await driver.step("open", "opfs");
    loaded = await driver.step("load");
    assert.deepEqual([loaded.version, loaded.source], [2, "store"], where("opfs: a reload reads the store"));
    await driver.step("corrupt", 2);
    loaded = await driver.step("load");
    assert.deepEqual([loaded.version, loaded.source, loaded.evictions.length], [2, "network", 1], where("opfs: damage is caught"));
    assert.deepEqual((await driver.step("predict", digits)).data, references[2]);
  } finally {
    await driver.close();
    await server.stop();
  }
}

test("ModelStore lifecycle in Chromium", () => lifecycle(chromiumDriver, "chromium"));
test("ModelStore lifecycle in Firefox", () => lifecycle(firefoxDriver, "firefox"));
