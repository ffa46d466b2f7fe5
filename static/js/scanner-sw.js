// Service worker for the usher's scanner (served as /usher/sw.js, scope /usher): keeps the scanner page,
// its scripts, styles and the vendored QR decoder (.wasm included) on the phone, so that a reload, a
// closed tab or a restarted phone still opens a working scanner when the venue's network is gone.
// Network first (a new version of the page shows as soon as the network is there), the cached copy when
// the network fails or is too slow for the door. The API is never touched here: the page itself decides
// what to do without it (its offline copy and queue live in IndexedDB).
const CACHE = "checkin-scanner-v1";
const SLOW_MS = 2500;
const VENDOR = "/static/vendor/barcode-detector/";
// The WebAssembly decoder is kept only on phones that need it (no native BarcodeDetector for QR):
// the page asks for it with a "keep-decoder" message.
const DECODER = [`${VENDOR}ponyfill.js`, `${VENDOR}zxing-exported.js`, `${VENDOR}zxing_reader.wasm`];
const PAGE = [
  "/usher",
  "/static/css/app.css",
  "/static/css/usher.css",
  "/static/js/scanner.js",
  "/static/js/qr-decoder.js",
  "/static/js/scanner-worker.js",
  "/static/js/offline-store.js",
  "/static/js/offline-copy.js",
  "/static/js/offline-queue.js",
  "/static/js/offline-counts.js",
];
const ASSETS = PAGE.concat(DECODER);

function keep(cache, urls, mode = "reload") {
  return cache.addAll(urls.map((url) => new Request(url, { cache: mode, credentials: "same-origin" })));
}

self.addEventListener("install", (event) => {
  // Everything but the page and its assets goes straight to the network, without waking this worker
  // (the Static Routing API; where it is missing, the fetch handler below lets those requests through).
  // The API must reach the server untouched: the page itself decides what to do when it does not answer.
  if (event.addRoutes) {
    event.waitUntil(event.addRoutes([
      { condition: { urlPattern: new URLPattern({ pathname: "/api/*" }) }, source: "network" },
      { condition: { urlPattern: new URLPattern({ pathname: "/usher/pair" }) }, source: "network" },
    ]).catch((err) => console.warn("service worker routes:", err)));
  }
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => keep(cache, PAGE))
      .then(() => self.skipWaiting()),
  );
});

// No clients.claim(): the page that registered this worker stays as it loaded (its requests go straight
// to the network); the next load of the scanner, with or without a network, comes through this worker.
// (It also keeps browser tests that intercept the page's requests working: Playwright's page.route does
// not see requests of a page controlled by a service worker.)
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((names) => Promise.all(
      names.filter((n) => n.startsWith("checkin-scanner-") && n !== CACHE).map((n) => caches.delete(n)),
    )),
  );
});

self.addEventListener("message", (event) => {
  // The page says the phone was unpaired: its cached page holds nothing personal, but drop it anyway.
  if (event.data === "forget") event.waitUntil(caches.delete(CACHE));
  if (event.data === "keep-decoder") {
    const reply = event.ports[0];
    event.waitUntil(
      caches.open(CACHE)
        // The page has just loaded these: take them from the browser's HTTP cache, not the network again.
        .then((cache) => keep(cache, DECODER, "force-cache"))
        .then(() => reply && reply.postMessage("kept"), (err) => reply && reply.postMessage(String(err))),
    );
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const page = url.pathname === "/usher";
  if (!page && !ASSETS.includes(url.pathname)) return; // the API, pairing pages: straight to the network
  // The vendored decoder changes only with its pinned version (and then this worker's CACHE name): from
  // the cache when kept, so a 1 MB .wasm is not fetched and stored again on every page load.
  if (DECODER.includes(url.pathname)) event.respondWith(cacheFirst(request, url.pathname));
  else event.respondWith(networkFirst(request, page ? "/usher" : url.pathname));
});

async function cacheFirst(request, key) {
  const cached = await caches.match(key, { cacheName: CACHE, ignoreVary: true, ignoreSearch: true });
  return cached || fetch(request);
}

async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  const fromNetwork = fetch(request).then(async (response) => {
    if (response.ok && response.type === "basic") await cache.put(key, response.clone());
    return response;
  });
  const cached = await cache.match(key, { ignoreVary: true, ignoreSearch: true });
  if (!cached) return fromNetwork;
  const slow = new Promise((resolve) => setTimeout(() => resolve(cached), SLOW_MS));
  return Promise.race([fromNetwork.catch(() => cached), slow]);
}
