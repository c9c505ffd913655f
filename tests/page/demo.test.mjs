// The digit demo in headless Chromium: draws real held-out MNIST digits with the mouse and checks the
// predictions, the clear button, CPU vs WebGPU agreement and the fallback without WebGPU, that every
// request stays on localhost, offline reload, the model versions (update, rollback), the profile panel, and the layout on a phone-sized viewport. Saves a screenshot to tests/out/demo.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { serve, launch, ROOT, OUT_DIR } from "./harness.mjs";

const DIGITS_TO_DRAW = 60;

/** Reads a little-endian .npy array of uint8 or uint16. */
function readNpy(path) {
  const buf = readFileSync(path);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLen).toString("latin1");
  const body = buf.subarray(10 + headerLen);
  if (header.includes("<u2")) return new Uint16Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.length));
  if (header.includes("|u1")) return new Uint8Array(body);
  throw new Error(`unexpected dtype in ${path}: ${header}`);
}

const pixels = readNpy(join(ROOT, "tests/fixtures/mnist/heldout_x_milli.npy"));
const labels = readNpy(join(ROOT, "tests/fixtures/mnist/heldout_y.npy"));

/** Strokes that retrace a digit: one stroke per run of ink along each pixel row and each pixel column. */
function strokesOf(index) {
  const ink = (x, y) => x < 28 && y < 28 && pixels[index * 784 + y * 28 + x] > 500;
  const strokes = [];
  for (const horizontal of [true, false]) {
    for (let a = 0; a < 28; a++) {
      let start = -1;
      for (let b = 0; b <= 28; b++) {
        const on = horizontal ? ink(b, a) : ink(a, b);
        if (on && start < 0) start = b;
        if (!on && start >= 0) {
          const from = [start + 0.5, a + 0.5], to = [b - 0.5, a + 0.5];
          strokes.push(horizontal ? [from, to] : [from.reverse(), to.reverse()]);
          start = -1;
        }
      }
    }
  }
  return strokes;
}

async function settled(page) {
  await page.waitForFunction(() => {
    const pad = document.getElementById("pad");
    const p = document.getElementById("prediction");
    return p.dataset.version === pad.dataset.version;
  }, null, { timeout: 15000 });
  return page.textContent("#prediction");
}

async function draw(page, index) {
  await page.click("#clear");
  const box = await page.locator("#pad").boundingBox();
  const cell = box.width / 28;
  const at = ([x, y]) => [box.x + x * cell, box.y + y * cell];
  for (const [from, to] of strokesOf(index)) {
    await page.mouse.move(...at(from));
    await page.mouse.down();
    await page.mouse.move(...at(to), { steps: 2 });
    await page.mouse.up();
  }
  return settled(page);
}

let server, context, page;
const requests = [];

before(async () => {
  mkdirSync(OUT_DIR, { recursive: true });
  server = await serve();
  context = await launch();
  page = await context.newPage();
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(server.url);
  await page.waitForSelector("#status[data-ready=true]", { timeout: 30000 });
});

after(async () => {
  await context?.close();
  await server?.stop();
});

test("predicts at least 90% of drawn held-out digits", async () => {
  let correct = 0;
  const misses = [];
  for (let i = 0; i < DIGITS_TO_DRAW; i++) {
    const got = await draw(page, i);
    if (got === String(labels[i])) correct++;
    else misses.push(`#${i}: drew ${labels[i]}, got ${got}`);
  }
  console.log(`demo: ${correct}/${DIGITS_TO_DRAW} drawn digits predicted correctly${misses.length ? ` (misses: ${misses.join("; ")})` : ""}`);
  assert.ok(correct / DIGITS_TO_DRAW >= 0.9, `${correct}/${DIGITS_TO_DRAW} correct`);
  const bars = await page.$$eval("#bars li[data-digit]", (els) => els.map((e) => e.dataset.digit));
  assert.deepEqual(bars, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
  assert.match(await page.textContent("#backend-used"), /CPU SIMD|WebGPU/);
  assert.match(await page.textContent("#latency"), /\d+\.\d+ ms/);
  assert.match(await page.textContent("#model-size"), /\d+\.\d+ MB/);
  await page.screenshot({ path: join(OUT_DIR, "demo.png") });
});

test("clear empties the prediction, by mouse and by keyboard", async () => {
  await draw(page, 0);
  assert.notEqual(await page.textContent("#prediction"), "");
  await page.click("#clear");
  assert.equal(await page.textContent("#prediction"), "");
  await draw(page, 1);
  await page.focus("#clear");
  await page.keyboard.press("Enter");
  assert.equal(await page.textContent("#prediction"), "");
  await draw(page, 2);
  await page.focus("#pad");
  await page.keyboard.press("Escape");
  assert.equal(await page.textContent("#prediction"), "");
});

/** The predicted digit and the ten bar values after drawing digit `index`. */
async function drawAndRead(page, index) {
  const digit = await draw(page, index);
  const bars = await page.$$eval("#bars li[data-digit]", (els) => els.map((e) => Number(e.dataset.p)));
  return { digit, bars };
}

test("auto skips SwiftShader for the CPU and says why; explicit WebGPU gives the same digits", async () => {
  assert.equal(await page.textContent("#backend-used"), "CPU SIMD", "auto should not pick a software WebGPU adapter");
  const why = await page.textContent("#backend-reason");
  assert.match(why, /^auto: the WebGPU adapter \(google \/ swiftshader\) is a software renderer/, why);
  assert.match(why, /so the CPU$/, why);
  const onCpu = [];
  for (let i = 0; i < 12; i++) onCpu.push(await drawAndRead(page, i));
  await page.selectOption("#backend", "webgpu");
  await page.waitForFunction(() => document.getElementById("backend-used").textContent === "WebGPU");
  assert.match(await page.textContent("#backend-reason"), /^the WebGPU backend was requested; adapter /);
  for (let i = 0; i < 12; i++) {
    const onGpu = await drawAndRead(page, i);
    assert.equal(onGpu.digit, onCpu[i].digit, `digit #${i}: WebGPU ${onGpu.digit}, CPU ${onCpu[i].digit}`);
    onGpu.bars.forEach((p, d) => assert.ok(Math.abs(p - onCpu[i].bars[d]) <= 1e-4, `digit #${i} bar ${d}: WebGPU ${p}, CPU ${onCpu[i].bars[d]}`));
  }
  await page.selectOption("#backend", "auto");
  await page.waitForFunction(() => document.getElementById("backend-used").textContent === "CPU SIMD");
  assert.equal(await draw(page, 3), String(labels[3]));
});

test("without WebGPU, auto runs on the CPU and asking for WebGPU says why", async () => {
  const noGpu = await launch({ webgpu: false });
  try {
    const p = await noGpu.newPage();
    await p.goto(server.url);
    await p.waitForSelector("#status[data-ready=true]", { timeout: 30000 });
    assert.equal(await p.textContent("#backend-used"), "CPU SIMD");
    assert.match(await p.textContent("#backend-reason"), /^auto: .*no WebGPU.*, so the CPU$/);
    await p.selectOption("#backend", "webgpu");
    await p.waitForFunction(() => /not available/.test(document.getElementById("status").textContent));
    assert.equal(await p.textContent("#backend-used"), "CPU SIMD");
    assert.equal(await draw(p, 3), String(labels[3]));
  } finally {
    await noGpu.close();
  }
});

test("every request stays on localhost", async () => {
  assert.ok(requests.length > 5, `recorded ${requests.length} requests`);
  const foreign = requests.filter((u) => !u.startsWith(server.url) && !u.startsWith("data:") && !u.startsWith("blob:"));
  assert.deepEqual(foreign, []);
});

test("works offline after the first visit", async () => {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r, { once: true }));
  });
  await context.setOffline(true);
  try {
    await page.reload();
    await page.waitForSelector("#status[data-ready=true]", { timeout: 30000 });
    assert.equal(await draw(page, 4), String(labels[4]));
  } finally {
    await context.setOffline(false);
  }
});

test("the demo runs the published latest, offers an update, rolls back and follows latest again", async () => {
  const ctx = await launch({ webgpu: false, serviceWorkers: "block" });
  try {
    const p = await ctx.newPage();
    let latest = 1;
    await p.route("**/models/mnist/versions.json", async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, json: { ...(await response.json()), latest } });
    });
    const version = () => p.evaluate(() => document.getElementById("model-version").dataset.version);
    const updateStatus = (re) => p.waitForFunction((re) => new RegExp(re).test(document.getElementById("update-status").textContent), re.source, { timeout: 30000 });
    await p.goto(server.url);
    await p.waitForSelector("#status[data-ready=true]", { timeout: 30000 });
    assert.equal(await version(), "1");
    await updateStatus(/Up to date/);
    assert.equal(await draw(p, 3), String(labels[3]), "version 1 (the MLP) reads a digit");

    latest = 2;
    await p.click("#check-update");
    await updateStatus(/Version 2 is ready/);
    assert.equal(await p.textContent("#update"), "Update to version 2");
    await p.click("#update");
    await p.waitForFunction(() => document.getElementById("model-version").dataset.version === "2");
    assert.match(await p.textContent("#update-status"), /Updated to version 2/);
    assert.match(await p.textContent("#status"), /model version 2\./);
    assert.equal(await draw(p, 7), String(labels[7]), "version 2 (the CNN) reads a digit");

    await p.click("#rollback");
    await p.waitForFunction(() => document.getElementById("model-version").dataset.version === "1");
    await updateStatus(/Pinned to version 1/);
    await p.reload();
    await p.waitForSelector("#status[data-ready=true]", { timeout: 30000 });
    assert.equal(await version(), "1", "the rollback's pin holds across a reload");
    assert.match(await p.textContent("#model-version"), /from this device's store/);
    assert.equal(await p.isVisible("#unpin"), true);

    await p.click("#unpin");
    await updateStatus(/Version 2 is ready/);
    await p.click("#update");
    await p.waitForFunction(() => document.getElementById("model-version").dataset.version === "2");
    assert.equal(await p.isVisible("#unpin"), false);

    await draw(p, 7);
    await p.click("#profile");
    await p.waitForFunction(() => document.querySelectorAll("#profile-bars li").length >= 3, null, { timeout: 30000 });
    const ops = await p.$$eval("#profile-bars li", (lis) => lis.map((li) => li.dataset.op));
    assert.equal(ops[0], "Conv", `the CNN's slowest op: ${ops}`);
    console.log(`demo profile panel: ${await p.textContent("#profile-summary")} ${ops.join(", ")}`);
    await p.screenshot({ path: join(OUT_DIR, "demo-versions.png"), fullPage: true });
  } finally {
    await ctx.close();
  }
});

test("fits a phone-sized viewport", async () => {
  await page.setViewportSize({ width: 375, height: 740 });
  const box = await page.locator("#pad").boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 375, `pad spans ${box.x}..${box.x + box.width}`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, "horizontal scrolling on a phone");
  assert.equal(await draw(page, 5), String(labels[5]));
  await page.screenshot({ path: join(OUT_DIR, "demo-phone.png"), fullPage: true });
});
