// `make check-types`: the package's TypeScript declarations (pkg/*.d.ts) have no `any` in a public signature
// (wasm-bindgen's raw export table, InitOutput, aside: index.d.ts does not hand it out), and an example that uses
// the whole API (examples/typescript/whole-api.ts) compiles with `tsc --strict`.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const pkg = join(root, "pkg");
const offenders = [];
for (const file of readdirSync(pkg).filter((f) => f.endsWith(".d.ts") && !f.endsWith("_bg.wasm.d.ts"))) {
  const blank = (m) => m.replace(/[^\n]/g, " ");
  const lines = readFileSync(join(pkg, file), "utf8").split("\n");
  const code = lines
    .join("\n")
    .replace(/export interface InitOutput \{[\s\S]*?\n\}/, blank)
    .replace(/\/\*[\s\S]*?\*\//g, blank)
    .replace(/\/\/.*$/gm, blank)
    .split("\n");
  code.forEach((line, i) => {
    if (/\bany\b/.test(line)) offenders.push(`${file}:${i + 1}: ${lines[i].trim()}`);
  });
}
if (offenders.length) {
  console.error(`check-types: \`any\` in public declarations:\n${offenders.join("\n")}`);
  process.exit(1);
}
execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", join(root, "examples/typescript/tsconfig.json")], { stdio: "inherit" });
console.log("check-types: no `any` in pkg/*.d.ts; examples/typescript/whole-api.ts compiles with tsc --strict");
