// Offline support for the app shell and the runtime (both wasm builds: index.js picks one per browser): precached
// on install, served network-first (so rebuilds show at once) and from the cache offline. The models are not
// this worker's business: the page's ModelStore keeps every version it ran, verified, and loads them offline.
const CACHE = "webinfer-demo-v4";
const SHELL = ["./", "index.html", "style.css", "app.js", "preprocess.js", "app.webmanifest", "icon.svg", "pkg/index.js", "pkg/store.js", "pkg/webinfer.js", "pkg/webinfer_bg.wasm", "pkg/webinfer_relaxed_bg.wasm"];
const MODELS = new URL("models/", self.location).pathname;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    // Only this worker's older shells: the ModelStore's caches ("webinfer-store …") belong to the page.
    for (const key of await caches.keys()) if (key.startsWith("webinfer-demo-") && key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith(MODELS)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(request);
      if (response.ok) cache.put(request, response.clone());
      return response;
    } catch (offline) {
      const cached = await cache.match(request, { ignoreSearch: true });
      if (cached) return cached;
      throw offline;
    }
  })());
});
