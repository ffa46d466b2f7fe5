// Records pages: the print button, and a question before a destructive form is sent (its text from the page).
import "./organiser.js";

for (const link of document.querySelectorAll("[data-print]")) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    window.print();
  });
}
