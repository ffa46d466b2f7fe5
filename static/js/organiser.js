// Organiser pages: ask before a destructive form is sent. The question comes from the page
// (data-confirm on the form), so it is in the page's language; without JavaScript the form just submits.
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
}
