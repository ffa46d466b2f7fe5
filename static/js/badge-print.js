// Organiser's badge printing page: layout preview, and large PDFs made as a job with a progress bar.
const form = document.getElementById("print-form");

function text(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
}

if (form) {
  const preview = document.getElementById("badge-preview");
  const box = form.querySelector(".job-progress");
  const bar = box.querySelector("progress");
  const message = box.querySelector(".job-message");
  const button = form.querySelector("button[type=submit]");

  form.addEventListener("change", (event) => {
    if (event.target.name === "layout" && preview) {
      preview.src = `${form.dataset.previewUrl}?layout=${encodeURIComponent(event.target.value)}`;
    }
    if (event.target.name === "person" && event.target.checked) form.elements.scope.value = "people";
    if (event.target.name === "unit") form.elements.scope.value = "unit";
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    box.hidden = false;
    bar.removeAttribute("value");
    message.textContent = "";
    try {
      const started = await fetch(form.dataset.jobsUrl, { method: "POST", body: new FormData(form) });
      if (!started.ok) throw new Error(await problemText(started));
      let job = await started.json();
      while (job.state === "running") {
        bar.max = job.total;
        bar.value = job.done;
        message.textContent = text(form.dataset.msgWorking, job);
        await new Promise((resolve) => setTimeout(resolve, 500));
        const polled = await fetch(job.status_url, { cache: "no-store" });
        if (!polled.ok) throw new Error(await problemText(polled));
        job = await polled.json();
      }
      if (job.state !== "done") throw new Error(job.error);
      bar.max = job.total;
      bar.value = job.total;
      message.textContent = form.dataset.msgDone;
      window.location.assign(job.download_url);
    } catch (error) {
      message.textContent = `${form.dataset.msgFailed} ${error.message}`;
    } finally {
      button.disabled = false;
    }
  });
}

// Narrow the people list while typing; diacritics and case ignored ("nguyen" finds "Nguyễn").
const filter = document.getElementById("people-filter");
const fold = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();
if (filter) {
  const items = [...document.querySelectorAll(".people-picker li")].map((li) => [li, fold(li.dataset.search)]);
  filter.hidden = false;
  filter.addEventListener("input", () => {
    const words = fold(filter.value).split(/\s+/).filter(Boolean);
    for (const [li, text] of items) li.hidden = !words.every((word) => text.includes(word));
  });
}

async function problemText(response) {
  // Errors come back as the site's error page; its message paragraph says what to do.
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const paragraph = page.querySelector(".error p");
  return paragraph ? paragraph.textContent : `HTTP ${response.status}`;
}
