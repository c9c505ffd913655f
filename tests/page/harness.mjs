// Shared page-test harness: serves www/ with tools/serve.py on a free port and launches Debian's Chromium.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const OUT_DIR = join(ROOT, "tests/out");
const GECKODRIVER = join(process.env.WEBINFER_TOOLS ?? join(homedir(), ".local/share/webinfer-tools"), "bin/geckodriver");

/**
 * Starts the static server on an ephemeral port (with a Content-Security-Policy header when `csp` is given, and
 * the test-only /__control/drop endpoint when `control` is);
 * resolves to { url, stop }. The server's stdout stays attached and
 * drained for its whole life: closing the pipe after reading the address line would kill it on its next write.
 */
export async function serve(dir = "www", { csp, control } = {}) {
  const extra = [...(csp ? ["--csp", csp] : []), ...(control ? ["--control"] : [])];
  const proc = spawn("python3", ["tools/serve.py", "--dir", dir, "--port", "0", "--quiet", ...extra], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stopping = false;
  // Until the server is up its stderr is kept for the rejection (a server that cannot start says why there, and
  // the caller decides whether that is an error); afterwards it goes to ours.
  let startupErrors = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (chunk) => {
    if (startupErrors === null) process.stderr.write(chunk);
    else startupErrors += chunk;
  });
  const url = await new Promise((resolve, reject) => {
    let buffered = "";
    proc.stdout.setEncoding("utf8");
    proc.stdout.on("data", (chunk) => {
      if (buffered === null) return;
      buffered += chunk;
      const m = buffered.match(/http:\/\/localhost:(\d+)\//);
      if (m) {
        buffered = null;
        if (startupErrors) process.stderr.write(startupErrors);
        startupErrors = null;
        resolve(`http://localhost:${m[1]}/`);
      }
    });
    proc.once("error", reject);
    proc.once("exit", (code, signal) => {
      if (buffered !== null) reject(new Error(`server exited (${code ?? signal}) before it started: ${buffered}${startupErrors}`));
      else if (!stopping) console.error(`tools/serve.py exited unexpectedly (${code ?? signal})`);
    });
  });
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    stopping = true;
    const exited = once(proc, "exit");
    proc.kill();
    await exited;
  };
  return { url, stop, proc };
}

/** Launches headless Chromium (WebGPU on when `webgpu`), with a fresh profile; `serviceWorkers: "block"` keeps
 * page.route() in front of every request. */
export async function launch({ webgpu = true, serviceWorkers = "allow" } = {}) {
  const args = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"];
  if (webgpu) args.push("--enable-unsafe-webgpu");
  const userDataDir = mkdtempSync(join(tmpdir(), "webinfer-chromium-"));
  return chromium.launchPersistentContext(userDataDir, { executablePath: "/usr/bin/chromium", headless: true, args, serviceWorkers, viewport: { width: 900, height: 900 } });
}

async function freePort() {
  const server = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** A WebDriver session on headless Firefox ESR through geckodriver; `call(method, path, body)` speaks to it. */
export async function firefox() {
  const port = await freePort();
  const driver = spawn(GECKODRIVER, ["--port", String(port)], { stdio: "ignore" });
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const response = await fetch(`${base}${path}`, { method, body: body && JSON.stringify(body), headers: { "content-type": "application/json" } });
    const json = await response.json();
    if (!response.ok) throw new Error(`geckodriver ${method} ${path}: ${JSON.stringify(json.value)}`);
    return json.value;
  };
  for (let i = 0; ; i++) {
    try {
      await call("GET", "/status");
      break;
    } catch (e) {
      if (i > 100) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const capabilities = { alwaysMatch: { "moz:firefoxOptions": { binary: "/usr/bin/firefox-esr", args: ["-headless"] } } };
  const { sessionId } = await call("POST", "/session", { capabilities });
  const session = (method, path, body) => call(method, `/session/${sessionId}${path}`, body);
  const quit = async () => {
    await session("DELETE", "").catch(() => {});
    driver.kill();
  };
  return { session, quit };
}
