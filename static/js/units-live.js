// The unit's live view: who of its cadres arrived for the session on now, refreshed every few seconds from a
// small JSON of this unit only (it reads a few dozen rows and never touches the door's scans).
const section = document.getElementById("live-view");
const EVERY_MS = 5000;

function item(person, arrived) {
  const li = document.createElement("li");
  li.className = arrived ? "arrived" : "missing";
  li.textContent = person.name + (arrived ? " · " + person.at : person.position ? " · " + person.position : "");
  if (!arrived && person.phone) {
    li.append(" · ");
    const a = document.createElement("a");
    a.href = "tel:" + person.phone;
    a.textContent = person.phone;
    li.append(a);
  }
  return li;
}

async function refresh() {
  try {
    const answer = await fetch(section.dataset.url, { credentials: "same-origin", cache: "no-store" });
    if (answer.ok) {
      const live = await answer.json();
      if (live.session) document.getElementById("live-session").textContent = live.session.title;
      document.getElementById("missing").replaceChildren(...live.missing.map((p) => item(p, false)));
      document.getElementById("arrived").replaceChildren(...live.arrived.map((p) => item(p, true)));
      document.getElementById("missing-count").textContent = live.missing.length;
      document.getElementById("arrived-count").textContent = live.arrived.length;
    }
  } catch {
    /* the venue's network: try again at the next tick */
  }
  setTimeout(refresh, EVERY_MS);
}

if (section) setTimeout(refresh, EVERY_MS);
