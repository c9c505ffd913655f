// The bundler examples as users build them (`make examples`: npm pack of pkg/, installed into examples/vite and
// examples/webpack, `vite build` / `webpack`): their built output, served statically, loads the MNIST CNN, reads a
// held-out digit on the page and in the package's Web Worker, in headless Chromium (both) and Firefox (Vite).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { serve, launch, firefox, ROOT } from "./harness.mjs";

function check(json, where) {
  const r = JSON.parse(json);
  assert.equal(r.error, undefined, `${where}: ${r.error}`);
  assert.equal(r.page, r.label, `${where}: the page reads the digit`);
  assert.equal(r.worker, r.label, `${where}: the worker reads the digit`);
  console.log(`${where}: digit ${r.label} read on the page (${r.build}) and in the worker (${r.workerBuild})`);
}

for (const app of ["vite", "webpack"]) {
  test(`the ${app} example's build runs in Chromium`, async () => {
    assert.ok(existsSync(join(ROOT, `examples/${app}/dist/index.html`)), `examples/${app}/dist is missing: run make examples`);
    const server = await serve(`examples/${app}/dist`);
    const context = await launch({ webgpu: false });
    try {
      const page = await context.newPage();
      const errors = [];
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(server.url);
      await page.waitForFunction(() => document.getElementById("result").textContent.startsWith("{"), null, { timeout: 30000 });
      check(await page.textContent("#result"), `${app} in Chromium`);
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
      await server.stop();
    }
  });
}

test("the vite example's build runs in Firefox", async () => {
  const server = await serve("examples/vite/dist");
  const { session, quit } = await firefox();
  try {
    await session("POST", "/url", { url: server.url });
    for (let i = 0; i < 300; i++) {
      const text = await session("POST", "/execute/sync", { script: "return document.getElementById('result').textContent", args: [] });
      if (text.startsWith("{")) return check(text, "vite in Firefox");
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("the vite example did not finish in Firefox");
  } finally {
    await quit();
    await server.stop();
  }
});
