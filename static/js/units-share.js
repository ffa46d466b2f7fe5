// The unit's Zalo message: Copy to the clipboard, or the phone's share sheet where the browser has one (Web Share).
// Either use is recorded on the server as the link sent for Zalo.
const box = document.querySelector(".share-buttons");
const text = document.getElementById("zalo-text");
const status = document.getElementById("share-status");

function record(how) {
  const body = new URLSearchParams({ csrf: box.dataset.csrf, how });
  return fetch(box.dataset.record, { method: "POST", body, credentials: "same-origin" });
}

if (box && text) {
  document.getElementById("copy-zalo").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text.value);
    } catch {
      text.select();
      document.execCommand("copy");
    }
    status.textContent = box.dataset.copied;
    await record("copy");
  });
  const share = document.getElementById("share-zalo");
  if (navigator.share) {
    share.hidden = false;
    share.addEventListener("click", async () => {
      try {
        await navigator.share({ text: text.value });
        await record("share");
      } catch {
        /* the person closed the share sheet */
      }
    });
  }
}
