// Completes the package.json wasm-pack wrote in the given package directory: index.js (src/pkg) is the entry,
// and both wasm builds and the model store (store.js) ship.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const path = join(process.argv[2], "package.json");
const pkg = JSON.parse(readFileSync(path, "utf8"));
const shipped = ["index.js", "index.d.ts", "store.js", "store.d.ts", "worker.js", "worker.d.ts", "engine-worker.js", "batching.js", "batching.d.ts", "webinfer_relaxed_bg.wasm"];
pkg.files = [...new Set([...pkg.files, ...shipped])];
pkg.main = "index.js";
pkg.module = "index.js";
pkg.types = "index.d.ts";
pkg.exports = {
  ".": { types: "./index.d.ts", default: "./index.js" },
  "./store.js": { types: "./store.d.ts", default: "./store.js" },
  "./worker.js": { types: "./worker.d.ts", default: "./worker.js" },
  "./batching.js": { types: "./batching.d.ts", default: "./batching.js" },
  "./webinfer.js": { types: "./webinfer.d.ts", default: "./webinfer.js" },
  "./webinfer_bg.wasm": "./webinfer_bg.wasm",
  "./webinfer_relaxed_bg.wasm": "./webinfer_relaxed_bg.wasm",
  "./package.json": "./package.json",
};
writeFileSync(path, JSON.stringify(pkg, null, 2) + "\n");
