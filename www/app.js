import init, { Model, version, simdBuild } from "./pkg/index.js";
import { toMnistInput } from "./preprocess.js";

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d", { willReadFrequently: true });
const predictionEl = $("prediction");
const statusEl = $("status");
const backendSelect = $("backend");
const BACKEND_NAMES = { cpu: "CPU SIMD", webgpu: "WebGPU" };
const SIMD_NAMES = { "relaxed-simd": "relaxed SIMD build", simd128: "simd128 build" };
const PREDICT_INTERVAL_MS = 60;

const state = { model: null, version: 0, drawing: false, last: null, busy: false, again: false, lastPredict: 0, timer: 0, hasInk: false };

function buildBars() {
  const bars = $("bars");
  for (let d = 0; d <= 9; d++) {
    const li = document.createElement("li");
    li.dataset.digit = String(d);
    li.innerHTML = `<span>${d}</span><span class="track"><span class="fill"></span></span><span class="pct">0%</span>`;
    bars.append(li);
  }
}

function showProbabilities(probs) {
  const top = probs ? probs.indexOf(Math.max(...probs)) : -1;
  for (const li of document.querySelectorAll("#bars li")) {
    const d = Number(li.dataset.digit);
    const p = probs ? probs[d] : 0;
    li.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    li.querySelector(".pct").textContent = `${(p * 100).toFixed(1)}%`;
    li.dataset.p = String(p);
    li.classList.toggle("top", d === top);
    li.setAttribute("aria-label", `${d}: ${(p * 100).toFixed(1)} percent`);
  }
  predictionEl.textContent = top >= 0 ? String(top) : "";
}

function clearPad() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, pad.width, pad.height);
  state.hasInk = false;
  state.version += 1;
  pad.dataset.version = String(state.version);
  showProbabilities(null);
  predictionEl.dataset.version = String(state.version);
}

async function predictNow() {
  if (!state.model) return;
  if (state.busy) {
    state.again = true;
    return;
  }
  state.busy = true;
  const version = state.version;
  try {
    const input = state.hasInk ? toMnistInput(ctx.getImageData(0, 0, pad.width, pad.height)) : null;
    if (input) {
      const start = performance.now();
      const { data } = await state.model.predict(input, [1, 28, 28, 1]);
      const ms = performance.now() - start;
      if (version === state.version) {
        showProbabilities(Array.from(data));
        $("latency").textContent = `${ms.toFixed(2)} ms`;
      }
    } else if (version === state.version) {
      showProbabilities(null);
    }
    predictionEl.dataset.version = String(version);
    predictionEl.dataset.seq = String(Number(predictionEl.dataset.seq) + 1);
  } catch (e) {
    statusEl.textContent = `Prediction failed: ${e.message}`;
  } finally {
    state.busy = false;
    state.lastPredict = performance.now();
    if (state.again) {
      state.again = false;
      predictNow();
    }
  }
}

function schedulePredict() {
  const wait = PREDICT_INTERVAL_MS - (performance.now() - state.lastPredict);
  if (wait <= 0) {
    predictNow();
  } else if (!state.timer) {
    state.timer = setTimeout(() => {
      state.timer = 0;
      predictNow();
    }, wait);
  }
}

function point(e) {
  const rect = pad.getBoundingClientRect();
  return { x: ((e.clientX - rect.left) * pad.width) / rect.width, y: ((e.clientY - rect.top) * pad.height) / rect.height };
}

function strokeTo(p) {
  const from = state.last;
  const mid = { x: (from.x + p.x) / 2, y: (from.y + p.y) / 2 };
  ctx.beginPath();
  ctx.moveTo(from.mid ? from.mid.x : from.x, from.mid ? from.mid.y : from.y);
  ctx.quadraticCurveTo(from.x, from.y, mid.x, mid.y);
  ctx.stroke();
  state.last = { ...p, mid };
}

function setupDrawing() {
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  pad.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    state.drawing = true;
    const p = point(e);
    ctx.lineWidth = pad.width * (e.pointerType === "pen" && e.pressure > 0 ? 0.06 + 0.04 * e.pressure : 0.08);
    ctx.beginPath();
    ctx.arc(p.x, p.y, ctx.lineWidth / 2, 0, Math.PI * 2);
    ctx.fill();
    state.last = p;
    state.hasInk = true;
    state.version += 1;
    pad.dataset.version = String(state.version);
    schedulePredict();
  });
  pad.addEventListener("pointermove", (e) => {
    if (!state.drawing) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) strokeTo(point(ev));
    state.version += 1;
    pad.dataset.version = String(state.version);
    schedulePredict();
  });
  const end = (e) => {
    if (!state.drawing) return;
    state.drawing = false;
    strokeTo(point(e));
    state.version += 1;
    pad.dataset.version = String(state.version);
    clearTimeout(state.timer);
    state.timer = 0;
    predictNow();
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  pad.addEventListener("keydown", (e) => {
    if (e.key === "Escape" || e.key === "Delete" || e.key === "Backspace") clearPad();
  });
  $("clear").addEventListener("click", clearPad);
}

async function loadModel(backend) {
  const progress = $("progress");
  progress.value = 0;
  statusEl.textContent = "Loading the model…";
  const model = await Model.load("model/model.json", {
    backend,
    onProgress: (f) => (progress.value = f),
    onDeviceLost: (reason) => {
      $("backend-used").textContent = BACKEND_NAMES.cpu;
      $("backend-reason").textContent = state.model?.backendReason ?? reason;
      statusEl.textContent = `The GPU went away (${reason}); continuing on ${BACKEND_NAMES.cpu}.`;
    },
  });
  if (state.model) state.model.free();
  state.model = model;
  $("backend-used").textContent = BACKEND_NAMES[model.backend] ?? model.backend;
  $("model-size").textContent = `${(model.sizeBytes / 1e6).toFixed(2)} MB`;
  $("backend-reason").textContent = model.backendReason;
  const build = model.backend === "cpu" ? ` (${SIMD_NAMES[simdBuild()]})` : "";
  statusEl.textContent = `Ready: webinfer ${version()} on ${BACKEND_NAMES[model.backend]}${build}. Draw a digit.`;
  statusEl.dataset.ready = "true";
  if (state.hasInk) predictNow();
}

backendSelect.addEventListener("change", async () => {
  const wanted = backendSelect.value;
  try {
    await loadModel(wanted);
  } catch (e) {
    statusEl.textContent = `${BACKEND_NAMES[wanted] ?? wanted} is not available here (${e.message}); still on ${BACKEND_NAMES[state.model?.backend] ?? "CPU"}.`;
    backendSelect.value = state.model?.backend ?? "auto";
  }
});

buildBars();
setupDrawing();
clearPad();
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("sw.js").catch((e) => console.warn("offline cache unavailable:", e));
}
try {
  await init();
  await loadModel(backendSelect.value);
} catch (e) {
  statusEl.textContent = `Could not start: ${e.message}`;
}
