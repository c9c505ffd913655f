// webpack 5 as it comes: `new URL(…, import.meta.url)` emits the wasm files and `new Worker(new URL(…))` the
// package's worker; the page loads the bundle as a module.
import { fileURLToPath } from "node:url";
import { copyFileSync, mkdirSync } from "node:fs";

const here = fileURLToPath(new URL(".", import.meta.url));
export default {
  mode: "production",
  entry: "./src/main.js",
  experiments: { outputModule: true },
  output: { path: `${here}dist`, filename: "main.js", module: true, clean: true },
  // Each wasm build is 686 KiB (about 220 KiB gzipped), over webpack's 244 KiB default hint; a page fetches one.
  performance: { maxAssetSize: 1 << 20 },
  plugins: [
    {
      apply: (compiler) =>
        compiler.hooks.afterEmit.tap("copy-html", () => {
          mkdirSync(`${here}dist`, { recursive: true });
          copyFileSync(`${here}src/index.html`, `${here}dist/index.html`);
        }),
    },
  ],
};
