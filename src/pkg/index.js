// The package entry (doc: index.d.ts): webinfer.js's API, with an init() that picks the wasm build.
import initWasm, { initSync } from "./webinfer.js";
import { relaxedSimdSupported } from "./probe.js";

export * from "./webinfer.js";
export { initSync, relaxedSimdSupported };

export function defaultWasmUrl() {
  return new URL(relaxedSimdSupported() ? "webinfer_relaxed_bg.wasm" : "webinfer_bg.wasm", import.meta.url);
}

export default function init(moduleOrPath) {
  return initWasm(moduleOrPath ?? { module_or_path: defaultWasmUrl() });
}
