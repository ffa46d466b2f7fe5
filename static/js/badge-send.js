// Sending badge links: while a run is going, poll its status and update the counts and progress;
// reload once it ends so that the table shows each person's result.
const counts = document.getElementById("send-counts");

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
}

async function poll() {
  const response = await fetch(counts.dataset.statusUrl, { cache: "no-store" });
  if (!response.ok) return;
  const status = await response.json();
  for (const [key, value] of Object.entries(status.counts)) {
    const cell = counts.querySelector(`[data-count="${key}"]`);
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

if (counts && counts.dataset.running === "true") setTimeout(poll, 1000);
