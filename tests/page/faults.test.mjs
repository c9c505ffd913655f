// Model.load under faults, in headless Chromium, against a server that misbehaves on purpose: a shard that stalls
// (timeoutMs), a shard cut off mid-body, a slow shard aborted through an AbortSignal. Each rejects promptly with a
// named error, leaves no request running on the server, and leaves wasm memory where it was; two loads of one URL
// at once both succeed, and a good load after every failure predicts as before. Needs pkg/ (`make pkg`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFileSync, existsSync } from "node:fs";
import { join, normalize } from "node:path";
import { launch, ROOT } from "./harness.mjs";

const MODEL_DIR = "tests/fixtures/mnist/converted/cnn-f16";
const TYPES = { ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".html": "text/html" };

/**
 * Serves the repository root, and the demo CNN under /m/<mode>/: "ok" as is; "stall" sends a shard's headers and
 * then nothing; "truncate" sends half a shard (with the full Content-Length) and closes the connection; "slow"
 * answers a shard after 5 s. `open` counts the shard requests still in flight.
 */
async function faultyServer() {
  const state = { open: 0, closedEarly: 0 };
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const m = path.match(/^\/m\/(\w+)\/(.+)$/);
    const file = m ? join(ROOT, MODEL_DIR, normalize(m[2])) : join(ROOT, normalize(path));
    if (!file.startsWith(ROOT) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const body = readFileSync(file);
    const type = TYPES[file.slice(file.lastIndexOf("."))] ?? "application/octet-stream";
    const mode = m && file.endsWith(".bin") ? m[1] : "ok";
    if (mode === "ok") {
      res.writeHead(200, { "content-type": type, "content-length": body.length, "cache-control": "no-store" }).end(body);
      return;
    }
    state.open++;
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        state.open--;
      }
    };
    res.on("close", () => {
      if (!res.writableFinished) state.closedEarly++;
      finish();
    });
    res.writeHead(200, { "content-type": type, "content-length": body.length, "cache-control": "no-store" });
    if (mode === "truncate") {
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.destroy(), 50));
    } else if (mode === "slow") {
      setTimeout(() => res.end(body), 5000);
    } else {
      res.flushHeaders();
    }
  });
  server.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const url = `http://127.0.0.1:${server.address().port}/`;
  return { url, state, stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

test("Model.load rejects stalls, truncation and aborts promptly by name, frees what it held, and recovers", async () => {
  const server = await faultyServer();
  const context = await launch({ webgpu: false });
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}tests/page/blank.html`);
    await page.evaluate(async () => {
      const pkg = await import("/pkg/index.js");
      const wasm = await pkg.default();
      const digit = new Float32Array(784);
      for (let i = 0; i < 784; i++) digit[i] = (i % 28 > 10 && i % 28 < 16 && i > 100 && i < 700) ? 1 : 0;
      window.t = {
        pkg,
        memory: () => wasm.memory.buffer.byteLength,
        async predictOnce(url) {
          const model = await pkg.Model.load(url, { backend: "cpu" });
          const out = Array.from((await model.predict(digit, [1, 28, 28, 1])).data);
          model.free();
          return out;
        },
        async failure(url, options) {
          const start = performance.now();
          try {
            const model = await pkg.Model.load(url, { backend: "cpu", ...options });
            model.free();
            return { ok: true };
          } catch (e) {
            return { name: e.name, message: e.message, ms: performance.now() - start };
          }
        },
      };
    });
    const good = await page.evaluate(() => t.predictOnce("/m/ok/model.json"));
    assert.equal(good.length, 10);
    const baseline = await page.evaluate(() => t.memory());
    const shardUrl = (mode) => new RegExp(`shard "group1-shard1of1\\.bin": .*${server.url}m/${mode}/group1-shard1of1\\.bin`);

    const stalled = await page.evaluate(() => t.failure("/m/stall/model.json", { timeoutMs: 500 }));
    console.log(`stalled shard: ${stalled.name} after ${stalled.ms.toFixed(0)} ms: ${stalled.message}`);
    assert.equal(stalled.name, "TimeoutError");
    assert.match(stalled.message, shardUrl("stall"));
    assert.match(stalled.message, /500 ms \(timeoutMs\)/);
    assert.ok(stalled.ms < 2000, `${stalled.ms} ms`);

    const truncated = await page.evaluate(() => t.failure("/m/truncate/model.json"));
    console.log(`truncated shard: ${truncated.name} after ${truncated.ms.toFixed(0)} ms: ${truncated.message}`);
    assert.equal(truncated.name, "ShardError");
    assert.match(truncated.message, shardUrl("truncate"));

    const aborted = await page.evaluate(async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      return t.failure("/m/slow/model.json", { signal: controller.signal });
    });
    console.log(`aborted load: ${aborted.name} after ${aborted.ms.toFixed(0)} ms: ${aborted.message}`);
    assert.equal(aborted.name, "AbortError");
    assert.match(aborted.message, /m\/slow\/group1-shard1of1\.bin was aborted/);
    assert.ok(aborted.ms < 1000, `${aborted.ms} ms`);
    const preAborted = await page.evaluate(() => t.failure("/m/ok/model.json", { signal: AbortSignal.abort() }));
    assert.equal(preAborted.name, "AbortError");

    // Nothing left running: every misbehaving shard request was closed by the browser, none is still open.
    for (let i = 0; i < 50 && server.state.open > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.state.open, 0, "shard requests still open on the server");

    const repeated = await page.evaluate(async () => {
      for (let i = 0; i < 10; i++) {
        await t.failure("/m/stall/model.json", { timeoutMs: 100 });
        await t.failure("/m/truncate/model.json");
      }
      return t.memory();
    });
    console.log(`wasm memory: ${baseline} bytes after one good load, ${repeated} after 22 failed loads`);
    assert.equal(repeated, baseline, "failed loads grew wasm memory");

    const [a, b] = await page.evaluate(() => Promise.all([t.predictOnce("/m/ok/model.json"), t.predictOnce("/m/ok/model.json")]));
    assert.deepEqual(a, good);
    assert.deepEqual(b, good);
  } finally {
    await context.close();
    await server.stop();
  }
});
