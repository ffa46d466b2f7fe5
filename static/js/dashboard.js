// The big-screen dashboard: a snapshot from the server, then the course's event stream applied to it.
// The server decides every status; this file only counts what it is told and draws it.

const root = document.getElementById("dashboard");
const strings = JSON.parse(document.getElementById("dashboard-strings").textContent);
const snapshotUrl = root.dataset.snapshotUrl;
const eventsUrl = root.dataset.eventsUrl;
const zone = root.dataset.timeZone;
const lang = root.dataset.lang === "en" ? "en-GB" : "vi-VN";
const RECENT = 15;
const REFRESH_MS = 60000; // a safety net (excusals make no event); the snapshot also says when the clock next changes things
const RETRY_MS = 3000;
const SIGNED_OUT_CHECK_MS = 1500;
// The server pings at least this often; silence for much longer means the network died without a word
// (Wi-Fi gone, a laptop lid closed), which EventSource alone may not notice for minutes.
const HEARTBEAT_MS = Number(root.dataset.heartbeatMs) || 15000;
const SILENCE_MS = 2.5 * HEARTBEAT_MS;

const timeFormat = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", timeZone: zone });
const clockFormat = new Intl.DateTimeFormat(lang, {
  hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: zone,
});
const $ = (id) => document.getElementById(id);

let state = null; // the snapshot, updated by events
let known = new Set(); // enrolment ids the snapshot counts
let unitPrefix = ""; // words every unit name starts with ("Đoàn Thanh niên "): left out of the bars
let appliedThrough = 0; // the newest event id counted in `state`
let lastReceived = 0; // the newest event id the stream delivered
let buffered = null; // events that arrive while a snapshot is being fetched
let source = null;
let refreshTimer = null;
let drawPending = false;
let lastHeard = Date.now(); // when the stream last said anything (an event, a ping, its opening)
let clockOffset = 0; // server time minus this computer's: the big screen shows the server's clock
let signedOut = false; // the organiser's session ended (signed out, password changed, account disabled)
const serverNow = () => Date.now() + clockOffset;

async function loadSnapshot() {
  if (signedOut) return;
  buffered = buffered || [];
  try {
    const response = await fetch(snapshotUrl, { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) {
      endSignedOut();
      return;
    }
    if (!response.ok) throw new Error(`snapshot: HTTP ${response.status}`);
    const snapshot = await response.json();
    state = snapshot;
    clockOffset = Date.parse(snapshot.now) - Date.now();
    known = new Set(snapshot.enrolment_ids);
    unitPrefix = commonPrefix(snapshot.units.map((u) => u.unit));
    appliedThrough = snapshot.last_event_id;
    const waiting = buffered;
    buffered = null;
    waiting.forEach(apply);
    draw();
    if (source === null) connect(Math.max(appliedThrough, lastReceived));
  } catch (error) {
    buffered = null;
    setStatus("reconnecting");
    setTimeout(loadSnapshot, RETRY_MS);
    return;
  }
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(loadSnapshot, nextRefresh());
}

function nextRefresh() {
  // At the next moment the clock changes the picture (a door opens, a session starts or ends), or after
  // REFRESH_MS, whichever is sooner; events keep the counts right in between.
  if (state && state.refresh_at) {
    const until = Date.parse(state.refresh_at) - serverNow() + 1000;
    if (until > 0 && until < REFRESH_MS) return until;
  }
  return REFRESH_MS;
}

function connect(fromId) {
  lastHeard = Date.now();
  source = new EventSource(`${eventsUrl}?last_event_id=${fromId}`);
  source.onopen = () => {
    lastHeard = Date.now();
    setStatus("live");
  };
  source.addEventListener("ping", () => {
    lastHeard = Date.now();
  });
  source.addEventListener("signed_out", () => {
    // The session that opened this stream has ended. This browser may hold a newer one (a password changed in
    // another tab, whose answer with the new cookie can arrive just after this event): a moment later the
    // snapshot says which, and the page either reconnects or shows that it is signed out.
    source.close();
    source = null;
    setStatus("reconnecting");
    setTimeout(loadSnapshot, SIGNED_OUT_CHECK_MS);
  });
  source.onmessage = (message) => {
    lastHeard = Date.now();
    const event = JSON.parse(message.data);
    event.id = Number(message.lastEventId);
    lastReceived = Math.max(lastReceived, event.id);
    if (buffered !== null) buffered.push(event);
    else {
      apply(event);
      scheduleDraw();
    }
  };
  source.onerror = () => {
    setStatus("reconnecting");
    // EventSource retries by itself after a dropped connection (sending Last-Event-ID), but gives up
    // on an HTTP error; then fetch a fresh snapshot (which says whether we are still signed in) and
    // start a new stream from there.
    if (source.readyState === EventSource.CLOSED) {
      source.close();
      source = null;
      setTimeout(loadSnapshot, RETRY_MS);
    }
  };
}

function endSignedOut() {
  // The server ended the session: stop listening, take the names off the screen, offer to sign in again.
  signedOut = true;
  if (source !== null) source.close();
  source = null;
  clearTimeout(refreshTimer);
  state = null;
  $("dash-recent").replaceChildren();
  $("dash-units").replaceChildren();
  $("dash-sign-in").hidden = false;
  setStatus("signed_out");
}

function watch() {
  if (!signedOut && source !== null && Date.now() - lastHeard > SILENCE_MS) {
    source.close();
    source = null;
    setStatus("reconnecting");
    connect(Math.max(appliedThrough, lastReceived));
  }
}

function apply(event) {
  if (event.id <= appliedThrough) return;
  appliedThrough = event.id;
  if (event.kind === "checkin") {
    if (!known.has(event.enrolment_id)) {
      refreshSoon(); // someone new (a walk-in): the totals change too
      return;
    }
    if (!state.session || event.session_id !== state.session.id) return;
    const counts = state.counts;
    counts[event.status] = (counts[event.status] || 0) + 1;
    counts.not_arrived = Math.max(0, counts.not_arrived - 1);
    const unit = state.units.find((u) => u.unit === event.unit);
    if (unit) unit.arrived += 1;
    else refreshSoon();
    state.recent.unshift({ name: event.name, unit: event.unit, status: event.status, at: event.at, fresh: true });
    state.recent.length = Math.min(state.recent.length, RECENT);
    const chart = state.chart;
    if (chart.start) {
      const index = Math.floor((Date.parse(event.at) - Date.parse(chart.start)) / 60000);
      chart.counts[Math.min(Math.max(index, 0), chart.minutes - 1)] += 1;
    }
  } else {
    // An undo, a correction, a walk-in: ask the server for the new totals rather than guess them.
    refreshSoon();
  }
}

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(loadSnapshot, 300);
}

function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  const run = () => {
    drawPending = false;
    draw();
  };
  if (document.hidden) setTimeout(run, 250);
  else requestAnimationFrame(run);
}

function setStatus(kind) {
  const status = $("dash-status");
  status.dataset.state = kind;
  status.textContent = strings[kind] || kind;
}

function draw() {
  if (!state) return;
  const session = state.session;
  if (!session) {
    $("dash-session").textContent = strings.no_session;
    $("dash-session-time").textContent = "";
  } else {
    $("dash-session").textContent = session.title;
    const range = `${timeFormat.format(new Date(session.starts_at))}–${timeFormat.format(new Date(session.ends_at))}`;
    const waiting = Date.parse(session.opens_at) > serverNow();
    $("dash-session-time").textContent = waiting ? `${strings.starts} ${range}` : range;
  }
  const counts = state.counts;
  $("count-arrived").textContent = counts.present + counts.late + (counts.left_early || 0);
  // Exit scans only: who left before the session's minimum share.
  $("count-left-early").textContent = counts.left_early || 0;
  $("count-left-early-box").hidden = !counts.left_early;
  $("count-enrolled").textContent = state.enrolled;
  $("count-present").textContent = counts.present;
  $("count-late").textContent = counts.late;
  $("count-missing").textContent = counts.not_arrived;
  $("count-missing-label").textContent = session && session.over ? strings.absent : strings.not_arrived;
  drawUnits();
  drawRecent();
  drawChart();
}

function commonPrefix(names) {
  if (names.length < 2) return "";
  const split = names.map((name) => name.split(" "));
  const words = [];
  for (let i = 0; ; i += 1) {
    const word = split[0][i];
    if (word === undefined || !split.every((parts) => parts.length > i + 1 && parts[i] === word)) break;
    words.push(word);
  }
  return words.length ? `${words.join(" ")} ` : "";
}

function missing(unit) {
  return unit.enrolled - unit.arrived - unit.excused;
}

function drawUnits() {
  const units = [...state.units].sort((a, b) => {
    const ma = missing(a), mb = missing(b);
    if ((ma === 0) !== (mb === 0)) return ma === 0 ? 1 : -1;
    const share = mb / b.enrolled - ma / a.enrolled;
    if (share !== 0) return share;
    return mb - ma || a.unit.localeCompare(b.unit, "vi");
  });
  const list = $("dash-units");
  const items = units.map((unit) => {
    const li = document.createElement("li");
    li.className = missing(unit) === 0 ? "unit complete" : "unit";
    const view = state.unit_views && state.unit_views[unit.unit]; // the unit's own live view (units wing)
    const name = document.createElement(view ? "a" : "span");
    if (view) name.href = view;
    name.className = "unit-name";
    name.textContent = (unitPrefix ? unit.unit.slice(unitPrefix.length) : unit.unit) || "—";
    name.title = unit.unit;
    const figure = document.createElement("span");
    figure.className = "unit-figure";
    figure.textContent = `${unit.arrived}/${unit.enrolled}`;
    const bar = document.createElement("span");
    bar.className = "unit-bar";
    const fill = document.createElement("span");
    fill.className = "unit-fill";
    fill.style.width = `${unit.enrolled ? (100 * (unit.arrived + unit.excused)) / unit.enrolled : 0}%`;
    bar.append(fill);
    li.append(name, figure, bar);
    return li;
  });
  list.replaceChildren(...items);
  const done = units.filter((u) => missing(u) === 0).length;
  $("dash-units-done").textContent = `${done}/${units.length} ${strings.complete}`;
}

function drawRecent() {
  const list = $("dash-recent");
  if (!state.recent.length) {
    const li = document.createElement("li");
    li.className = "recent-empty";
    li.textContent = strings.nobody_yet;
    list.replaceChildren(li);
    return;
  }
  list.replaceChildren(...state.recent.map((arrival) => {
    const li = document.createElement("li");
    li.className = arrival.fresh ? "arrival fresh" : "arrival";
    arrival.fresh = false;
    const time = document.createElement("time");
    time.dateTime = arrival.at;
    time.textContent = timeFormat.format(new Date(arrival.at));
    const name = document.createElement("span");
    name.className = "arrival-name";
    name.textContent = arrival.name;
    const unit = document.createElement("span");
    unit.className = "arrival-unit";
    unit.textContent = arrival.status === "late" ? `${arrival.unit} · ${strings.late}` : arrival.unit;
    li.append(time, name, unit);
    return li;
  }));
}

function drawChart() {
  const svg = $("dash-chart");
  const counts = state.chart.counts;
  const ns = "http://www.w3.org/2000/svg";
  const width = 600, height = 160, top = 14;
  const most = Math.max(1, ...counts);
  const step = width / Math.max(1, counts.length);
  const shapes = counts.map((n, i) => {
    const rect = document.createElementNS(ns, "rect");
    const h = ((height - top) * n) / most;
    rect.setAttribute("x", (i * step + step * 0.1).toFixed(1));
    rect.setAttribute("y", (height - h).toFixed(1));
    rect.setAttribute("width", Math.max(1, step * 0.8).toFixed(1));
    rect.setAttribute("height", h.toFixed(1));
    rect.setAttribute("class", "bar");
    return rect;
  });
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", "4");
  label.setAttribute("y", "12");
  label.setAttribute("class", "chart-max");
  label.textContent = `${most} ${strings.per_minute}`;
  if (state.session && state.chart.start) {
    const start = Date.parse(state.chart.start);
    const nowIndex = (serverNow() - start) / 60000;
    if (nowIndex >= 0 && nowIndex <= counts.length) {
      const line = document.createElementNS(ns, "line");
      const x = (nowIndex * step).toFixed(1);
      line.setAttribute("x1", x);
      line.setAttribute("x2", x);
      line.setAttribute("y1", "0");
      line.setAttribute("y2", String(height));
      line.setAttribute("class", "now");
      shapes.push(line);
    }
  }
  svg.replaceChildren(...shapes, label);
}

function tick() {
  $("dash-clock").textContent = clockFormat.format(new Date(serverNow()));
}

const fullScreen = $("dash-fullscreen");
fullScreen.addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else root.requestFullscreen().catch(() => {});
});
document.addEventListener("fullscreenchange", () => {
  fullScreen.textContent = document.fullscreenElement ? strings.exit_full_screen : strings.full_screen;
});

tick();
setInterval(tick, 1000);
setInterval(() => state && drawChart(), 15000);
setInterval(watch, Math.min(5000, HEARTBEAT_MS / 2));
loadSnapshot();
