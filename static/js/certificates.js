// Reports page: certificates are issued as a job. This script follows it on the page (issued n of N, then the
// pages drawn) and starts the download when it is done. Without it the form still works: the server answers
// with the job's own page, which reloads itself until the PDF is ready.
const form = document.getElementById("certificates-form");

const fmt = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function problemText(response) {
  // Errors come back as the site's error page; its message paragraph says what to do.
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const paragraph = page.querySelector(".error p");
  return paragraph ? paragraph.textContent : `HTTP ${response.status}`;
}

async function fetchJob(url, options = {}) {
  const response = await fetch(url, { ...options, headers: { Accept: "application/json" }, cache: "no-store" });
  if (!response.ok) throw new Error(await problemText(response));
  return response.json();
}

if (form) {
  const box = document.getElementById("certificates-progress");
  const bar = box.querySelector("progress");
  const message = box.querySelector(".job-message");
  const button = form.querySelector("button[type=submit]");
  const messages = { issuing: form.dataset.msgIssuing, drawing: form.dataset.msgDrawing, saving: form.dataset.msgSaving };

  function show(job) {
    box.dataset.stage = job.stage;
    if (job.total) {
      bar.max = job.total;
      bar.value = job.done;
    } else {
      bar.removeAttribute("value");
    }
    const template = job.total || job.stage === "saving" ? messages[job.stage] : form.dataset.msgStarting;
    message.textContent = fmt(template || form.dataset.msgStarting, job);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    box.hidden = false;
    bar.removeAttribute("value");
    message.textContent = form.dataset.msgStarting;
    try {
      let job = await fetchJob(form.action, { method: "POST", body: new FormData(form) });
      while (job.state === "running") {
        show(job);
        await sleep(700);
        job = await fetchJob(job.status_url);
      }
      if (job.state !== "done") {
        throw new Error(job.error === "interrupted" ? form.dataset.msgInterrupted : job.error);
      }
      show(job);
      box.dataset.stage = "done";
      message.textContent = form.dataset.msgDone;
      window.location.assign(job.download_url);
    } catch (error) {
      message.textContent = `${form.dataset.msgFailed} ${error.message}`;
    } finally {
      button.disabled = false;
    }
  });
}
