import init, { version } from "./pkg/webinfer.js";

const status = document.getElementById("status");
try {
  await init();
  status.textContent = `webinfer ${version()} loaded (wasm).`;
  status.dataset.ready = "true";
} catch (e) {
  status.textContent = `Could not load the runtime: ${e.message}`;
}
