// The package entry (doc: index.d.ts): webinfer.js's API, with an init() that picks the wasm build.
import initWasm, { initSync } from "./webinfer.js";
import { relaxedSimdSupported } from "./probe.js";

export * from "./webinfer.js";
export { initSync, relaxedSimdSupported };

// Two literal `new URL(…, import.meta.url)`s: bundlers (Vite, webpack 5) emit both files and rewrite both URLs.
export function defaultWasmUrl() {
  return relaxedSimdSupported() ? new URL("./webinfer_relaxed_bg.wasm", import.meta.url) : new URL("./webinfer_bg.wasm", import.meta.url);
}

export default function init(moduleOrPath) {
  return initWasm(moduleOrPath ?? { module_or_path: defaultWasmUrl() });
}
