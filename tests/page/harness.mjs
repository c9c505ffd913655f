// Shared page-test harness: serves www/ with tools/serve.py on a free port and launches Debian's Chromium.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const OUT_DIR = join(ROOT, "tests/out");

/** Starts the static server on an ephemeral port; resolves to { url, stop }. */
export async function serve(dir = "www") {
  const proc = spawn("python3", ["tools/serve.py", "--dir", dir, "--port", "0", "--quiet"], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let buffered = "";
  for await (const chunk of proc.stdout) {
    buffered += chunk;
    const m = buffered.match(/http:\/\/localhost:(\d+)\//);
    if (m) {
      return { url: `http://localhost:${m[1]}/`, stop: async () => { proc.kill(); await once(proc, "exit"); } };
    }
  }
  throw new Error(`server did not start: ${buffered}`);
}

/** Launches headless Chromium (WebGPU on when `webgpu`), with a fresh profile. */
export async function launch({ webgpu = true } = {}) {
  const args = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"];
  if (webgpu) args.push("--enable-unsafe-webgpu");
  const userDataDir = mkdtempSync(join(tmpdir(), "webinfer-chromium-"));
  return chromium.launchPersistentContext(userDataDir, { executablePath: "/usr/bin/chromium", headless: true, args, viewport: { width: 900, height: 900 } });
}
