// The organiser's room code screen: a new QR every step (a few seconds) while the session's window is open, and
// the list of badges refused because they were used from a second phone.
const root = document.getElementById("room-screen");
const S = JSON.parse(document.getElementById("room-screen-strings").textContent);
const qr = document.getElementById("room-qr");
const closed = document.getElementById("room-closed");
const refused = document.getElementById("room-refused");
const time = new Intl.DateTimeFormat(S.lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const step = Number(root.dataset.step || 5) * 1000;
let shown = null;

async function refresh() {
  let wait = step;
  try {
    const response = await fetch(root.dataset.stateUrl, { cache: "no-store", headers: { Accept: "application/json" } });
    if (response.ok) {
      const state = await response.json();
      wait = Math.max(200, state.refresh_in * 1000 + 50);
      if (state.open && state.code !== shown) {
        const url = new URL(root.dataset.qrUrl, location.href);
        url.searchParams.set("v", state.code.split(".").slice(-2).join("."));
        qr.src = url.href;
        shown = state.code;
        root.dataset.code = state.code;
      }
      qr.hidden = !state.open;
      closed.hidden = state.open;
      refused.replaceChildren(...(state.refused.length ? state.refused : [null]).map((r) => {
        const item = document.createElement("li");
        item.textContent = r ? `${time.format(new Date(r.at))} · ${r.name} · ${r.unit}` : S.none;
        return item;
      }));
    }
  } catch (err) {
    console.warn("room code:", err);
  }
  setTimeout(refresh, wait);
}

refresh();
