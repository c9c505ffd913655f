/**
 * The package entry: the wasm-bindgen API of webinfer.js, with an init() that instantiates the relaxed-SIMD build
 * (webinfer_relaxed_bg.wasm: fused multiply-add in the CPU kernels) where the browser validates relaxed SIMD, and the
 * baseline simd128 build (webinfer_bg.wasm) everywhere else. Both builds come from the same crate and share
 * webinfer.js; `simdBuild()` says which one is running.
 */
export * from "./webinfer.js";
import type { InitInput } from "./webinfer.js";
export { initSync } from "./webinfer.js";
export { relaxedSimdSupported } from "./probe.js";

/** The wasm file init() picks here when it is given none: the relaxed-SIMD build where supported, else the
 * baseline simd128 build. */
export function defaultWasmUrl(): URL;

/** Instantiates the engine: the given module or URL, else the build `defaultWasmUrl()` names. */
export default function init(
  moduleOrPath?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>,
): Promise<{ readonly memory: WebAssembly.Memory }>;
