// The participant's badge page: print button, and the service worker that keeps the page offline.
const printButton = document.getElementById("print-badge");
if (printButton) {
  printButton.addEventListener("click", () => window.print());
  printButton.hidden = false; // without this script the button could do nothing, so it starts hidden
}

async function keepOffline() {
  const data = document.getElementById("badge-offline");
  if (!data || !("serviceWorker" in navigator) || !("caches" in window)) return;
  const { cache, urls } = JSON.parse(data.textContent);
  await navigator.serviceWorker.register("/b/sw.js", { scope: "/b/" });
  await navigator.serviceWorker.ready;
  // The first visit was not served through the worker: store the page and what it needs now.
  const store = await caches.open(cache);
  await store.addAll(urls);
  document.documentElement.dataset.offlineReady = "true";
}

keepOffline().catch((error) => {
  // Offline use is a bonus: the page itself works without it.
  console.warn("badge page will not be available offline:", error);
});
