// The demo and a test page under `script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'` (no 'unsafe-eval'):
// in headless Chromium (Playwright) and Firefox ESR (geckodriver, WebDriver over HTTP), each loads the wasm,
// predicts, and reports no policy violation. The Firefox half is the CPU fallback (no WebGPU there).
import { test } from "node:test";
import assert from "node:assert/strict";
import { serve, launch, firefox } from "./harness.mjs";

const CSP = "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'";

function checkResult(json, where) {
  const result = JSON.parse(json);
  assert.deepEqual(result.violations, [], `${where}: CSP violations`);
  assert.equal(result.error, undefined, `${where}: ${result.error}`);
  assert.equal(result.outputs.length, 10, where);
  assert.ok(Math.abs(result.outputs.reduce((a, b) => a + b, 0) - 1) < 1e-4, `${where}: softmax sums to 1`);
  return result;
}

test("the demo and a test page run in Chromium under a strict Content-Security-Policy", async () => {
  const root = await serve(".", { csp: CSP });
  const demo = await serve("www", { csp: CSP });
  const context = await launch({ webgpu: true });
  try {
    const page = await context.newPage();
    const violations = [];
    page.on("console", (m) => m.type() === "error" && violations.push(m.text()));
    page.on("response", (r) => r.status() >= 400 && violations.push(`${r.status()} ${r.url()}`));
    await page.goto(`${root.url}tests/page/csp.html`);
    await page.waitForFunction(() => document.getElementById("result").textContent, null, { timeout: 30000 });
    const result = checkResult(await page.textContent("#result"), "Chromium test page");
    console.log(`Chromium, ${result.build} build: predicted under "${CSP}"`);
    const demoPage = await context.newPage();
    await demoPage.addInitScript(() => {
      window.cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`));
    });
    demoPage.on("console", (m) => m.type() === "error" && violations.push(m.text()));
    await demoPage.goto(demo.url);
    await demoPage.waitForSelector("#status[data-ready=true]", { timeout: 30000 });
    const box = await demoPage.locator("#pad").boundingBox();
    await demoPage.mouse.move(box.x + box.width / 2, box.y + box.height * 0.2);
    await demoPage.mouse.down();
    await demoPage.mouse.move(box.x + box.width / 2, box.y + box.height * 0.8, { steps: 8 });
    await demoPage.mouse.up();
    await demoPage.waitForFunction(() => /\d/.test(document.getElementById("prediction").textContent), null, { timeout: 15000 });
    assert.deepEqual(await demoPage.evaluate(() => window.cspViolations), [], "demo: CSP violations");
    assert.deepEqual(violations, [], "console errors");
  } finally {
    await context.close();
    await root.stop();
    await demo.stop();
  }
});

test("the demo and a test page run in Firefox under a strict Content-Security-Policy", async () => {
  const root = await serve(".", { csp: CSP });
  const demo = await serve("www", { csp: CSP });
  const { session, quit } = await firefox();
  const poll = async (script) => {
    for (let i = 0; i < 300; i++) {
      const value = await session("POST", "/execute/sync", { script, args: [] });
      if (value) return value;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for: ${script}`);
  };
  try {
    await session("POST", "/url", { url: `${root.url}tests/page/csp.html` });
    const result = checkResult(await poll("return document.getElementById('result').textContent"), "Firefox test page");
    console.log(`Firefox, ${result.build} build: predicted under "${CSP}"`);
    await session("POST", "/url", { url: demo.url });
    const status = await poll("const s = document.getElementById('status'); return s.dataset.ready === 'true' && s.textContent");
    assert.match(status, /Ready: webinfer/);
  } finally {
    await quit();
    await root.stop();
    await demo.stop();
  }
});
