import init, { version, simdBuild } from "./pkg/index.js";
import { ModelStore } from "./pkg/store.js";
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
const MODEL = "mnist";
const UPDATE_CHECK_MS = 5 * 60 * 1000;

const state = { store: null, model: null, version: 0, drawing: false, last: null, busy: false, again: false, lastPredict: 0, timer: 0, hasInk: false };

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

function showModel() {
  const model = state.model;
  const pinned = state.store.pinned(MODEL);
  $("model-version").textContent = `${model.version}${model.source === "store" ? " (from this device's store)" : ""}`;
  $("model-size").textContent = `${(model.sizeBytes / 1e6).toFixed(2)} MB`;
  $("rollback").disabled = !state.store.stored(MODEL).some((v) => v.version < model.version);
  $("unpin").hidden = pinned === null;
  $("model-version").dataset.version = String(model.version);
  const build = model.backend === "cpu" ? ` (${SIMD_NAMES[simdBuild()]})` : "";
  statusEl.textContent = `Ready: webinfer ${version()} on ${BACKEND_NAMES[model.backend]}${build}, model version ${model.version}. Draw a digit.`;
  if (pinned !== null) $("update-status").textContent = `Pinned to version ${pinned} after a rollback.`;
}

async function loadModel(backend) {
  const progress = $("progress");
  progress.value = 0;
  statusEl.textContent = "Loading the model…";
  const model = await state.store.load(MODEL, {
    backend,
    onProgress: (f) => (progress.value = f),
    onDeviceLost: (reason) => {
      $("backend-used").textContent = BACKEND_NAMES.cpu;
      $("backend-reason").textContent = state.model?.backendReason ?? reason;
      statusEl.textContent = `The GPU went away (${reason}); continuing on ${BACKEND_NAMES.cpu}.`;
    },
  });
  state.model = model;
  progress.value = 1;
  $("backend-used").textContent = BACKEND_NAMES[model.backend] ?? model.backend;
  $("backend-reason").textContent = model.backendReason;
  showModel();
  $("profile").disabled = false;
  statusEl.dataset.ready = "true";
  if (state.hasInk) predictNow();
}

/** Downloads and warms up a newer published version in the background, then offers the switch. */
async function checkForUpdate() {
  const status = $("update-status");
  if (state.store.pinned(MODEL) !== null) return;
  status.textContent = "Checking for a newer model…";
  try {
    const update = await state.store.checkForUpdate(MODEL, { onProgress: (f) => (status.textContent = `Downloading the update: ${Math.round(f * 100)}%`) });
    $("update").hidden = !update;
    if (update) {
      $("update").textContent = `Update to version ${update.version}`;
      $("update").dataset.version = String(update.version);
    }
    status.textContent = update ? `Version ${update.version} is ready.` : "Up to date.";
  } catch (e) {
    status.textContent = navigator.onLine === false ? "Offline: running the stored model." : `Update check failed: ${e.message}`;
  }
}

async function switchModel(action) {
  for (const id of ["update", "rollback", "unpin", "check-update"]) $(id).disabled = true;
  try {
    await action();
    $("backend-used").textContent = BACKEND_NAMES[state.model.backend] ?? state.model.backend;
    showModel();
    if (state.hasInk) predictNow();
  } catch (e) {
    $("update-status").textContent = e.message;
  } finally {
    for (const id of ["update", "unpin", "check-update"]) $(id).disabled = false;
    showModel();
  }
}

/** Times every op of the running model over 20 runs on the drawing (or a blank pad) and draws the slowest. */
async function showProfile() {
  const button = $("profile");
  button.disabled = true;
  try {
    const input = state.hasInk ? toMnistInput(ctx.getImageData(0, 0, pad.width, pad.height)) : new Float32Array(784);
    const profile = await state.model.profile(input, [1, 28, 28, 1], { runs: 20 });
    const how = { "cpu-kernel": "kernel time", "webgpu-timestamp": "GPU timestamps", "webgpu-dispatch-wall": "wall time per dispatch" }[profile.timing];
    $("profile-summary").textContent = `${profile.totalMs.toFixed(2)} ms per run on ${BACKEND_NAMES[profile.backend]} (${how}), ${profile.rows.length} ops; the slowest:`;
    const bars = $("profile-bars");
    bars.replaceChildren(
      ...[...profile.rows].sort((a, b) => b.ms - a.ms).slice(0, 6).map((row) => {
        const li = document.createElement("li");
        li.title = `${row.node} → [${row.shape.join(", ")}]`;
        li.innerHTML = `<span class="op"></span><span class="track"><span class="fill"></span></span><span class="pct"></span>`;
        li.querySelector(".op").textContent = row.op;
        li.querySelector(".fill").style.width = `${(row.share * 100).toFixed(1)}%`;
        li.querySelector(".pct").textContent = `${row.ms.toFixed(3)} ms`;
        li.dataset.op = row.op;
        return li;
      }),
    );
  } catch (e) {
    $("profile-summary").textContent = `Profiling failed: ${e.message}`;
  } finally {
    button.disabled = false;
  }
}

function setupVersions() {
  $("profile").addEventListener("click", showProfile);
  $("check-update").addEventListener("click", checkForUpdate);
  $("update").addEventListener("click", () =>
    switchModel(async () => {
      const to = await state.store.upgrade(MODEL);
      $("update").hidden = true;
      $("update-status").textContent = `Updated to version ${to}.`;
    }),
  );
  $("rollback").addEventListener("click", () =>
    switchModel(async () => {
      $("update").hidden = true;
      await state.store.rollback(MODEL);
    }),
  );
  $("unpin").addEventListener("click", () =>
    switchModel(async () => {
      await state.store.unpin(MODEL);
      $("update-status").textContent = "Following the latest version again.";
      await checkForUpdate();
    }),
  );
  addEventListener("online", checkForUpdate);
  setInterval(checkForUpdate, UPDATE_CHECK_MS);
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
setupVersions();
clearPad();
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("sw.js").catch((e) => console.warn("offline cache unavailable:", e));
}
try {
  await init();
  state.store = await ModelStore.open("models/");
  await loadModel(backendSelect.value);
  checkForUpdate();
} catch (e) {
  statusEl.textContent = `Could not start: ${e.message}`;
}
