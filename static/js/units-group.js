// Group check-in at the door: the leader's badge shows the unit's cadres as tick boxes; each tick is one
// check-in (POST /api/v1/groups/checkins, the one scan function on the server); unticking undoes it.
const TOKEN_KEY = "checkin.deviceToken";
const root = document.getElementById("group");
const texts = JSON.parse(root.dataset.texts);
const token = localStorage.getItem(TOKEN_KEY);
const message = document.getElementById("group-message");
let leaderCode = "";
let sessionId = null;
const scanIds = new Map();

async function api(path, body) {
  const answer = await fetch(path, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const code = data.error ? data.error.code : "";
    throw new Error(texts[code] || (data.error ? data.error.message : String(answer.status)));
  }
  return data;
}

function row(cadre) {
  const li = document.createElement("li");
  li.className = "card";
  const label = document.createElement("label");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.dataset.participantId = cadre.participant_id;
  const arrived = ["present", "late", "excused"].includes(cadre.status);
  box.checked = arrived;
  box.disabled = arrived;
  label.append(box, " ", cadre.name + (cadre.position ? " · " + cadre.position : ""));
  li.append(label);
  box.addEventListener("change", () => tick(box, cadre));
  return li;
}

async function tick(box, cadre) {
  box.disabled = true;
  try {
    if (box.checked) {
      const nonce = crypto.randomUUID();
      const decision = await api("/api/v1/groups/checkins",
        { code: leaderCode, participant_id: cadre.participant_id, session_id: sessionId, nonce });
      if (decision.accepted) scanIds.set(cadre.participant_id, decision.scan_id);
      else box.checked = decision.reason === "already_checked_in";
      message.textContent = `${cadre.name}: ${texts[decision.reason] || decision.reason}`;
    } else {
      await api(`/api/v1/scans/${scanIds.get(cadre.participant_id)}/undo`);
      scanIds.delete(cadre.participant_id);
      message.textContent = `${cadre.name}: ${texts.undone}`;
    }
  } catch (error) {
    box.checked = !box.checked;
    message.textContent = error.message;
  }
  box.disabled = box.checked && !scanIds.has(cadre.participant_id);
}

document.getElementById("leader-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  leaderCode = document.getElementById("leader-code").value.trim();
  try {
    const view = await api("/api/v1/groups", { code: leaderCode });
    sessionId = view.session ? view.session.id : null;
    document.getElementById("group-title").textContent = `${view.unit} · ${view.leader}`;
    document.getElementById("group-session").textContent = view.session ? view.session.title : texts.no_session;
    document.getElementById("group-cadres").replaceChildren(...view.cadres.map(row));
    document.getElementById("group-unit").hidden = false;
    message.textContent = "";
  } catch (error) {
    document.getElementById("group-unit").hidden = true;
    message.textContent = error.message;
  }
});

if (!token) document.getElementById("group-pair").hidden = false;
