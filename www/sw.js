// Offline support: precaches the app shell, the runtime (both wasm builds: index.js picks one per browser) and
// the model (shards listed in model.json) on install; serves same-origin GETs network-first (so rebuilds show at once) and from the cache offline.
const CACHE = "webinfer-demo-v3";
const SHELL = ["./", "index.html", "style.css", "app.js", "preprocess.js", "app.webmanifest", "icon.svg", "pkg/index.js", "pkg/webinfer.js", "pkg/webinfer_bg.wasm", "pkg/webinfer_relaxed_bg.wasm", "model/model.json"];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL);
    const manifest = await (await cache.match("model/model.json")).json();
    await cache.addAll(manifest.weightsManifest.flatMap((g) => g.paths.map((p) => `model/${p}`)));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
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
