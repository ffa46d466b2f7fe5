// A sending run (badge links to people, links or reminders to units): while it is going, poll its status and
// update its counts and progress; reload once it ends so that the table shows each result.
const watched = document.querySelector("[data-status-url][data-running]");

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
}

async function poll() {
  const response = await fetch(watched.dataset.statusUrl, { cache: "no-store" });
  if (!response.ok) return;
  const status = await response.json();
  for (const [key, value] of Object.entries(status.counts || {})) {  // the badge page's counts
    const cell = watched.querySelector(`[data-count="${key}"]`);
    if (cell) cell.textContent = value;
  }
  const run = status.run;
  const bar = document.getElementById("send-progress");
  const message = document.getElementById("send-message");
  if (run && bar && message) {
    bar.max = run.total || 1;
    bar.value = run.total ? run.done : 1;
    message.textContent = fill(message.dataset[`msg${run.state[0].toUpperCase()}${run.state.slice(1)}`] || "", run);
  }
  if (run && run.state === "running") {
    setTimeout(poll, 1000);
  } else {
    window.location.reload();
  }
}

if (watched && watched.dataset.running === "true") setTimeout(poll, 1000);
