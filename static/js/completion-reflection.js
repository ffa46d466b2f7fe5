// The cadre's reflection: the draft is saved as they type (a second after they stop, and when they leave the
// page), and the page says when it was saved. Without this script the form still submits the text.
const form = document.getElementById("reflection-form");

if (form) {
  const area = document.getElementById("reflection-body");
  const status = document.getElementById("draft-status");
  const lang = document.documentElement.lang || "vi";
  const time = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  let timer = null;
  let saved = area.value;
  let saving = null;

  async function save() {
    timer = null;
    const text = area.value;
    if (text === saved) return;
    saving = fetch(form.dataset.draftUrl, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ draft: text }), keepalive: true, cache: "no-store",
    });
    try {
      const response = await saving;
      if (!response.ok) throw new Error(String(response.status));
      const answer = await response.json();
      saved = text;
      status.textContent = form.dataset.saved.replace("{time}", time.format(new Date(answer.saved_at)));
      form.dataset.draftSaved = answer.saved_at;
    } catch {
      status.textContent = form.dataset.failed;
    } finally {
      saving = null;
    }
  }

  area.addEventListener("input", () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(save, 1000);
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") save();
  });
}
