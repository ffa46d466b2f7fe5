// Each cadre's badge link: Copy, or the phone's share sheet (Web Share) where the browser has one.
const status = document.getElementById("copy-status");
for (const box of document.querySelectorAll(".share-one")) {
  box.querySelector(".copy-one").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(box.dataset.url);
      status.textContent = status.dataset.copied;
    } catch {
      /* no clipboard: the link is on the page to select */
    }
  });
  const share = box.querySelector(".share-one-button");
  if (navigator.share) {
    share.hidden = false;
    share.addEventListener("click", () => navigator.share({ title: box.dataset.name, url: box.dataset.url }).catch(() => {}));
  }
}
