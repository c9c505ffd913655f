import { test } from "node:test";
import assert from "node:assert/strict";
import { serve, launch } from "./harness.mjs";

test("the served page loads the wasm runtime with the right MIME type and isolation headers", async () => {
  const server = await serve();
  const context = await launch();
  try {
    const page = await context.newPage();
    const wasm = page.waitForResponse((r) => r.url().endsWith(".wasm"));
    await page.goto(server.url);
    const response = await wasm;
    assert.equal(response.headers()["content-type"], "application/wasm");
    await page.waitForSelector("#status[data-ready=true]", { timeout: 20000 });
    assert.match(await page.textContent("#status"), /Ready: webinfer \d+\.\d+\.\d+ on CPU SIMD/);
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
  } finally {
    await context.close();
    await server.stop();
  }
});
