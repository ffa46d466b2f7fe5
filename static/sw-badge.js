// Service worker for the participant badge pages (scope /b/). Network first, so check-ins and a new
// language show up when the network is there; the cached copy when it is not, or when it is so slow
// that the usher at the door would wait.
const CACHE = "checkin-badge-v1";
const SLOW_MS = 4000;

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => {
  // Drop the caches of older versions of this worker, then take over the open badge pages.
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("checkin-badge-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname === "/b/sw.js") return;
  if (!url.pathname.startsWith("/b/") && !url.pathname.startsWith("/static/")) return;
  event.respondWith(networkFirst(request));
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  const fromNetwork = fetch(request).then(async (response) => {
    if (response.ok && response.type === "basic") await cache.put(request, response.clone());
    // A badge re-issued or revoked since: forget the old copy so that it is not shown offline either.
    if (response.status === 404) await cache.delete(request);
    return response;
  });
  const cached = await cache.match(request, { ignoreVary: true });
  if (!cached) return fromNetwork;
  const slow = new Promise((resolve) => setTimeout(() => resolve(cached), SLOW_MS));
  return Promise.race([fromNetwork.catch(() => cached), slow]);
}
