// The usher's scanner page. The server decides every scan; this page shows its answer loudly.
// Camera (qr-decoder.js), name search and a keyboard-wedge scanner gun all post to /api/v1/scans
// with the device token that pairing stored in this phone.
// When the server does not answer within OFFLINE_AFTER_MS (no network, or a crowded one), the page
// answers from its offline copy (offline-copy.js), marked "offline", and queues the scan
// (offline-queue.js) for the server, which decides it again when the network is back.

import { createDetector, scanLoop } from "./qr-decoder.js";
import * as offlineCopy from "./offline-copy.js";
import * as queue from "./offline-queue.js";
import * as idb from "./offline-store.js";
import * as counts from "./offline-counts.js";

const TOKEN_KEY = "checkin.deviceToken";
const DEVICE_REFUSALS = new Set(["device_revoked", "device_expired", "device_token_invalid", "device_token_missing"]);
const KIND = {
  checked_in: "ok",
  checked_in_late: "warn",
  already_checked_in: "warn",
  checked_out: "out", // Leaving mode: its own colour and sound
  already_checked_out: "warn",
};
const DIRECTION_KEY = "checkin.direction";
const OFFLINE_AFTER_MS = 1500; // no answer by then: answer from the offline copy and queue the scan
const RETRY_DELAYS_MS = [0, 250, 500];
const COUNT_REFRESH_MS = 15_000;
const DEVICE_REFRESH_MS = 60_000;
const TICK_MS = 3000; // the background loop: sync the queue, refresh the copy, report the queue
const COPY_REFRESH_MS = 30_000;
const STATUS_EVERY_MS = 30_000;

const $ = (id) => document.getElementById(id);
const S = JSON.parse($("usher-strings").textContent);
const root = $("scanner");
const ui = {
  pairNeeded: $("pair-needed"), pairNeededText: $("pair-needed-text"), door: $("door"),
  deviceLabel: $("device-label"), courseTitle: $("course-title"), sessionNow: $("session-now"),
  sessionSelect: $("session-select"), countDevice: $("count-device"), countSession: $("count-session"),
  cameraBox: $("camera-box"), start: $("start"), video: $("camera"), cameraStatus: $("camera-status"),
  result: $("result"), title: $("result-title"), name: $("result-name"), unit: $("result-unit"),
  position: $("result-position"), detail: $("result-detail"), undo: $("undo"), manual: $("manual"),
  searchForm: $("search-form"), search: $("search"), searchStatus: $("search-status"),
  searchResults: $("search-results"), wedgeForm: $("wedge-form"), wedge: $("wedge"),
  source: $("result-source"), net: $("net"), netState: $("net-state"), netQueue: $("net-queue"),
  copyAge: $("copy-age"), changes: $("sync-changes"), changesList: $("sync-changes-list"),
  expiredQueue: $("expired-queue"),
  direction: $("direction"), directionToggle: $("direction-toggle"), directionBanner: $("direction-banner"),
};
// Undo stays on screen this long (the server allows a device longer: data-undo-seconds).
const UNDO_VISIBLE_MS = Math.min(20_000, Number(root.dataset.undoSeconds || 300) * 1000);

const state = {
  token: null,
  deviceId: null,
  course: null,
  sessions: [],
  currentSessionId: null,
  chosenSessionId: null,
  stopCamera: null,
  stream: null,
  wakeLock: null,
  worker: null,
  seq: 0,
  shownSeq: 0,
  undoTimer: null,
  audio: null,
  searchSeq: 0,
  searchTimer: null,
  // Offline: the server's clock minus ours (the phone's clock may be off; scans carry the server's time
  // as this phone best knows it), the network as last seen, the queue's length, the copy's age.
  offset: 0,
  net: "online",
  queued: 0,
  copyAt: null,
  expiresAt: null,
  syncing: null,
  lastSyncAt: null,
  statusAt: 0,
  statusDirty: true,
  forgetting: false,
  copyStale: true, // a page that opens asks for what changed since its copy, however young the copy is
  direction: "in", // "out": Leaving mode (exit scans), when the course asks for them
};
// Figures for the benchmark and the tests: decode time per frame, and when each answer was shown.
const stats = { detector: null, worker: false, frameMs: [], answers: [] };
window.checkinScanner = stats;

const fmt = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A scan's nonce: a UUIDv7 (RFC 9562), the time in milliseconds first and 74 random bits after it. Unique like a
// random UUID, and in time order: the server's index of a phone's nonces (scans_device_nonce) gets each new one at
// its end instead of at a random page, one page fewer written per scan at a busy door.
function nonce() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70; // version 7
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function serverNow() {
  return Date.now() + state.offset;
}

async function api(path, { method = "GET", body, timeoutMs = 8000 } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const headers = { Authorization: `Bearer ${state.token}`, Accept: "application/json" };
  if (body) headers["Content-Type"] = "application/json";
  try {
    const response = await fetch(path, {
      method, headers, body: body ? JSON.stringify(body) : undefined, signal: controller.signal,
      cache: "no-store", credentials: "omit",
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    return { status: response.status, data };
  } finally {
    clearTimeout(timer);
  }
}

function errorCode(answer) {
  return answer && answer.data && answer.data.error ? answer.data.error.code : "";
}

// --- device, sessions, counters --------------------------------------------------------------

function timeFormat() {
  return new Intl.DateTimeFormat(S.lang === "vi" ? "vi-VN" : "en-GB", {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    timeZone: state.course ? state.course.time_zone : undefined,
  });
}

function clock(iso) {
  return iso ? timeFormat().format(new Date(iso)) : "";
}

function learnOffset(serverTime) {
  const at = Date.parse(serverTime || "");
  if (!Number.isNaN(at)) state.offset = at - Date.now();
}

async function loadDevice() {
  let answer;
  try {
    answer = await api("/api/v1/device");
  } catch {
    setNet("offline");
    if (root.dataset.state === "loading") {
      paint("busy", "network", { title: S.retrying });
      setTimeout(loadDevice, 3000);
    }
    return false;
  }
  if (answer.status !== 200) {
    if (DEVICE_REFUSALS.has(errorCode(answer)) || answer.status === 401 || answer.status === 403) {
      unpaired(errorCode(answer));
    } else if (root.dataset.state === "loading") {
      setTimeout(loadDevice, 5000);
    }
    return false;
  }
  setNet("online");
  const { device, course, sessions, current_session_id: current } = answer.data;
  learnOffset(answer.data.server_time);
  state.expiresAt = Date.parse(device.expires_at);
  showDoor(device, course, sessions, current);
  refreshCounts();
  return true;
}

// The door as the offline copy knows it: after a reload without network the scanner still opens.
async function loadDoorFromCopy() {
  let meta;
  try {
    meta = await idb.getMeta(["device", "course", "sessions", "offset", "fetchedAt", "expiresAt"]);
  } catch (err) {
    console.warn("offline copy unavailable:", err);
    return false;
  }
  if (!meta.device || !meta.course || !meta.sessions) return false;
  state.offset = meta.offset || 0;
  state.copyAt = meta.fetchedAt || null;
  state.expiresAt = meta.expiresAt || null;
  const current = offlineCopy.pickSession(meta.sessions, serverNow());
  showDoor(meta.device, meta.course, meta.sessions, current ? current.id : null);
  await showCounts();
  return true;
}

// Leaving mode ("Ra về"): offered only when the course takes exit scans; the whole page changes colour, the
// mode is announced, and each answer says "Left" with its own sound.
function showDirection() {
  const offered = Boolean(state.course && state.course.exit_scans);
  if (!offered) state.direction = "in";
  ui.direction.hidden = !offered;
  root.dataset.direction = state.direction;
  document.body.classList.toggle("leaving", state.direction === "out");
  ui.directionToggle.setAttribute("aria-pressed", String(state.direction === "out"));
  ui.directionToggle.textContent = state.direction === "out" ? S.to_arriving : S.to_leaving;
  ui.directionBanner.textContent = offered ? (state.direction === "out" ? S.mode_leaving : S.mode_arriving) : "";
}

function toggleDirection() {
  state.direction = state.direction === "out" ? "in" : "out";
  try {
    sessionStorage.setItem(DIRECTION_KEY, state.direction);
  } catch {
    // private mode: the mode lasts as long as the page
  }
  unlockAudio();
  showDirection();
  paint("idle", "", { title: state.direction === "out" ? S.mode_leaving : S.ready });
}

function showDoor(device, course, sessions, current) {
  state.deviceId = device.id;
  state.course = course;
  state.sessions = sessions;
  state.currentSessionId = current;
  ui.deviceLabel.textContent = device.label;
  ui.courseTitle.textContent = course.title;
  fillSessions();
  showSession();
  showDirection();
  for (const el of [ui.door, ui.cameraBox, ui.manual]) el.hidden = false;
  if (root.dataset.state === "loading") {
    root.dataset.state = "ready";
    paint("idle", "", { title: S.ready });
  }
}

function fillSessions() {
  const select = ui.sessionSelect;
  const keep = select.value;
  while (select.options.length > 1) select.remove(1);
  for (const s of state.sessions) {
    select.add(new Option(`${clock(s.starts_at)}–${clock(s.ends_at)} · ${s.title}`, String(s.id)));
  }
  const current = state.sessions.find((s) => s.id === state.currentSessionId);
  select.options[0].textContent = current ? fmt(S.auto_session, { title: current.title }) : S.auto_none;
  select.value = state.sessions.some((s) => String(s.id) === keep) ? keep : "";
}

function shownSessionId() {
  return state.chosenSessionId ?? state.currentSessionId;
}

function showSession() {
  const session = state.sessions.find((s) => s.id === shownSessionId());
  ui.sessionNow.textContent = session
    ? `${session.title} (${clock(session.starts_at)}–${clock(session.ends_at)})`
    : S.now_none;
  root.dataset.sessionId = session ? String(session.id) : "";
}

// The counters: the server's count when it answers (kept on the phone), otherwise the last one kept plus
// what this phone admitted offline since (offline-counts.js).
async function refreshCounts() {
  const sessionId = shownSessionId();
  if (sessionId && state.net !== "offline") {
    try {
      const answer = await api(`/api/v1/sessions/${sessionId}/count`);
      if (answer.status === 200) {
        await counts.remember(state.deviceId, sessionId, {
          device: answer.data.this_device, session: answer.data.checked_in,
        });
      } else if (DEVICE_REFUSALS.has(errorCode(answer))) {
        unpaired(errorCode(answer));
        return;
      }
    } catch {
      // The next scan or the next tick tries again; the counter is a hint, not a record.
    }
  }
  await showCounts();
}

async function showCounts() {
  const sessionId = shownSessionId();
  let shown = null;
  if (sessionId) {
    try {
      shown = await counts.estimate(state.deviceId, sessionId);
    } catch (err) {
      console.warn("counters:", err);
    }
  }
  if (sessionId !== shownSessionId()) return; // the usher chose another session meanwhile
  ui.countDevice.textContent = shown ? String(shown.device) : "–";
  ui.countSession.textContent = shown ? String(shown.session) : "–";
}

// The server refused this phone (or its pairing ran out): what it queued is still sent, then the
// offline copy, the queue and the token are wiped, so that the phone holds nothing of the course any
// more. A revoked phone's scans are stored as refused (device_revoked) and none counts. Scans an expired
// phone made before its expiry still count (the server judges them at their own time): if they cannot be
// sent now (no network), the phone forgets the copy at once but keeps those scans, and its token, until
// they are sent.
async function unpaired(code, { queueSent = false } = {}) {
  if (state.forgetting) return;
  state.forgetting = true;
  stopCamera();
  let run = null;
  if (!queueSent && state.token && (code === "device_revoked" || code === "device_expired")) {
    try {
      run = await queue.sync(api);
    } catch (err) {
      console.warn("queue not sent:", err);
    }
  }
  let left = 0;
  try {
    left = await queue.size();
  } catch {
    left = 0;
  }
  const keepQueue = code === "device_expired" && left > 0 && !queueSent && !(run && run.refused);
  try {
    if (keepQueue) {
      await idb.run([...idb.COPY_STORES, "local"], "readwrite", (tx) => {
        for (const name of [...idb.COPY_STORES, "local"]) tx.objectStore(name).clear();
      }, "strict");
    } else {
      await idb.wipe();
    }
  } catch (err) {
    console.warn("offline copy not wiped:", err);
  }
  if (navigator.serviceWorker) {
    navigator.serviceWorker.getRegistration("/usher")
      .then((registration) => registration && registration.active && registration.active.postMessage("forget"))
      .catch(() => {});
  }
  if (keepQueue) {
    state.expiredQueue = true;
    state.queued = left;
    state.copyAt = null;
  } else {
    try {
      localStorage.removeItem(TOKEN_KEY);
    } catch {
      // Nothing stored to remove.
    }
    state.token = null;
    state.queued = 0;
    state.expiredQueue = false;
    ui.net.hidden = true;
  }
  state.forgetting = false;
  ui.changes.hidden = true;
  ui.pairNeededText.textContent = S[code] || (code ? S.pair_again : S.not_paired);
  showExpiredQueue();
  ui.pairNeeded.hidden = false;
  for (const el of [ui.door, ui.cameraBox, ui.manual, ui.result]) el.hidden = true;
  root.dataset.state = "unpaired";
}

function showExpiredQueue() {
  ui.expiredQueue.hidden = !state.expiredQueue;
  ui.expiredQueue.textContent = state.expiredQueue ? fmt(S.expired_waiting, { n: state.queued, grace: root.dataset.syncGrace }) : "";
  root.dataset.expiredQueue = state.expiredQueue ? String(state.queued) : "";
}

// --- camera ----------------------------------------------------------------------------------

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    ui.cameraStatus.textContent = S.camera_needs_https;
    return;
  }
  ui.cameraStatus.textContent = S.camera_loading;
  ui.start.disabled = true;
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
    ui.video.srcObject = state.stream;
    ui.video.hidden = false;
    await ui.video.play();
    const detector = await chooseDetector();
    stats.detector = detector.kind;
    stats.worker = Boolean(detector.worker);
    state.stopCamera = scanLoop(ui.video, detector, (text) => submitScan({ code: text, method: "camera" }), {
      onFrame: (ms) => {
        stats.frameMs.push(ms);
        if (stats.frameMs.length > 5000) stats.frameMs.splice(0, 1000);
      },
    });
    ui.cameraStatus.textContent = S.camera_on;
    ui.start.hidden = true;
    root.dataset.state = "scanning";
    keepScreenOn();
  } catch (err) {
    console.warn("camera:", err);
    stopCamera();
    ui.cameraStatus.textContent = S.camera_denied;
  } finally {
    ui.start.disabled = false;
  }
}

// An usher holds the phone for an hour: the screen must not go dark between two arrivals.
async function keepScreenOn() {
  if (!navigator.wakeLock || document.visibilityState !== "visible" || !state.stream) return;
  try {
    state.wakeLock = await navigator.wakeLock.request("screen");
  } catch {
    state.wakeLock = null; // refused (battery saver): the phone's own timeout applies
  }
}

// Back from a locked screen or another app: the camera track may have ended; offer Start again.
function onVisible() {
  if (document.visibilityState !== "visible" || !state.stream) return;
  if (state.stream.getVideoTracks().some((track) => track.readyState === "ended")) {
    stopCamera();
    ui.cameraStatus.textContent = "";
  } else {
    keepScreenOn();
  }
}

// The native detector already works off the main thread; the WebAssembly one gets a worker of its
// own when the browser can hand it frames (ImageBitmap), else it runs on the page.
async function chooseDetector() {
  if ((await nativeReadsQr()) || typeof Worker !== "function" || typeof createImageBitmap !== "function") {
    return createDetector();
  }
  try {
    return await workerDetector();
  } catch (err) {
    console.warn("decoding on the page:", err);
    return createDetector();
  }
}

async function nativeReadsQr() {
  const Native = globalThis.BarcodeDetector;
  if (typeof Native !== "function" || typeof Native.getSupportedFormats !== "function") return false;
  try {
    return (await Native.getSupportedFormats()).includes("qr_code");
  } catch {
    return false;
  }
}

function workerDetector(timeoutMs = 10_000) {
  const worker = new Worker(new URL("./scanner-worker.js", import.meta.url), { type: "module" });
  const waiting = new Map();
  let next = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.terminate();
      reject(new Error("decoder worker did not start"));
    }, timeoutMs);
    worker.onerror = (event) => {
      clearTimeout(timer);
      worker.terminate();
      reject(new Error(event.message || "decoder worker failed"));
    };
    worker.onmessage = ({ data }) => {
      if (data.ready) {
        clearTimeout(timer);
        state.worker = worker;
        resolve({
          kind: data.ready,
          worker: true,
          async detect(video) {
            const bitmap = await createImageBitmap(video);
            const id = ++next;
            return new Promise((done, fail) => {
              waiting.set(id, { done, fail });
              worker.postMessage({ id, bitmap }, [bitmap]);
            });
          },
        });
      } else if (data.failed) {
        clearTimeout(timer);
        worker.terminate();
        reject(new Error(data.failed));
      } else if (waiting.has(data.id)) {
        const { done, fail } = waiting.get(data.id);
        waiting.delete(data.id);
        if (data.error) fail(new Error(data.error));
        else done(data.codes);
      }
    };
  });
}

function stopCamera() {
  if (state.stopCamera) state.stopCamera();
  state.stopCamera = null;
  if (state.worker) state.worker.terminate();
  state.worker = null;
  if (state.stream) for (const track of state.stream.getTracks()) track.stop();
  state.stream = null;
  if (state.wakeLock) state.wakeLock.release().catch(() => {});
  state.wakeLock = null;
  ui.video.hidden = true;
  ui.start.hidden = false;
}

// --- scans -----------------------------------------------------------------------------------

async function submitScan(body) {
  if (!state.token) return;
  const decodedAt = performance.now();
  const payload = { ...body, nonce: nonce() }; // the same nonce on every retry: one scan, however often sent
  if (state.direction === "out") payload.direction = "out";
  if (state.chosenSessionId) payload.session_id = state.chosenSessionId;
  const seq = ++state.seq;
  // "Checking…" only when the answer is slow: a quick answer replaces the last one without a flash,
  // and screen readers are not interrupted twice per badge.
  const busy = setTimeout(() => {
    if (seq === state.seq && seq > state.shownSeq) showBusy(S.sending);
  }, 250);
  try {
    // Scans already waiting go first, in order: a new one joins the queue behind them.
    const online = state.net !== "offline" && navigator.onLine !== false && state.queued === 0;
    if (!online || !(await send(payload, seq))) await answerOffline(payload, seq, decodedAt);
  } finally {
    clearTimeout(busy);
  }
}

// Ask the server, within OFFLINE_AFTER_MS. True when it answered (shown), false when it could not.
async function send(payload, seq) {
  const deadline = performance.now() + OFFLINE_AFTER_MS;
  for (const delay of RETRY_DELAYS_MS) {
    if (delay) await sleep(delay);
    const left = deadline - performance.now();
    if (left <= 0) break;
    let answer;
    try {
      answer = await api("/api/v1/scans", { method: "POST", body: payload, timeoutMs: left });
    } catch {
      continue;
    }
    if (answer.status >= 500) continue;
    setNet("online");
    handleAnswer(answer, seq, payload);
    return true;
  }
  return false;
}

// No answer in time: answer from the offline copy, marked offline, and queue the scan for the server.
// If the request did reach the server after all, the queued copy carries the same nonce: replayed, not
// counted twice.
async function answerOffline(payload, seq, decodedAt) {
  setNet("offline");
  const at = serverNow();
  const entry = {
    nonce: payload.nonce, scanned_at: new Date(at).toISOString(), session_id: payload.session_id || null,
    ...(payload.code != null ? { code: payload.code } : { participant_id: payload.participant_id }),
    ...(payload.direction ? { direction: payload.direction } : {}),
  };
  let result = null;
  // The offline copy knows arrivals, not departures: a departure is queued and answered "saved offline".
  if (!payload.direction) try {
    result = await offlineCopy.answer({
      code: payload.code ?? null, participantId: payload.participant_id ?? null,
      sessionId: payload.session_id || null, at,
    });
  } catch (err) {
    console.warn("offline copy:", err);
  }
  const offline = result && {
    reason: result.reason, accepted: result.accepted, enrolmentId: result.enrolmentId,
    sessionId: result.session ? result.session.id : null, name: result.person ? result.person.name : "",
  };
  // The answer goes on screen while the scan is being written (a few ms): the person at the door does
  // not wait for the disk. Should the write fail, the usher is told to scan again.
  const saved = queue.enqueue(entry, offline);
  const shown = seq >= state.shownSeq;
  if (shown) {
    state.shownSeq = seq;
    if (result) {
      showOfflineAnswer(result, decodedAt);
    } else {
      paint("warn", "queued", { title: payload.direction ? S.saved_offline_leaving : S.saved_offline }, "offline");
      feedback("warn");
    }
  }
  try {
    await saved;
  } catch (err) {
    console.warn("scan not queued:", err);
    if (shown && seq === state.shownSeq) showRefusal(S.gave_up, "network");
    return;
  }
  state.queued += 1;
  state.statusDirty = true;
  showNet();
  showCounts();
}

function handleAnswer(answer, seq, payload) {
  if (answer.status === 200) {
    const data = answer.data;
    // An older scan whose retry came back late must not hide the answer to a newer one.
    if (seq >= state.shownSeq) {
      state.shownSeq = seq;
      showAnswer(data);
    }
    refreshCounts();
    offlineCopy.noteAccepted({ code: payload.code ?? null, participantId: payload.participant_id ?? null, data })
      .catch((err) => console.warn("offline copy:", err));
    return;
  }
  const code = errorCode(answer);
  if (DEVICE_REFUSALS.has(code)) {
    unpaired(code);
    return;
  }
  if (seq >= state.shownSeq) {
    state.shownSeq = seq;
    const message = payload.code ? S.not_a_badge : (answer.data && answer.data.error && answer.data.error.message);
    showRefusal(message || S.server_error, code || "error");
  }
}

function showOfflineAnswer(result, decodedAt) {
  const reason = result.reason;
  const kind = KIND[reason] || "bad";
  let title = S[reason] || reason;
  if (reason === "already_checked_in" && result.firstAt) {
    title = fmt(S.already_at, { time: clock(new Date(result.firstAt).toISOString()) });
  } else if (reason === "unknown_code") {
    title = S.unknown_offline;
  }
  const person = result.person;
  paint(kind, reason, {
    title,
    name: person ? person.name : "",
    unit: person ? person.unit : "",
    position: person ? person.position : "",
    detail: result.session ? fmt(S.session_label, { title: result.session.title }) : "",
  }, "offline");
  stats.answers.push({ at: performance.now(), reason, name: person ? person.name : "", scanId: null, offline: true,
    decodedAt });
  feedback(kind);
}

function showAnswer(data) {
  const reason = data.reason;
  const kind = KIND[reason] || "bad";
  let title = S[reason] || reason;
  if (reason === "already_checked_in" && data.first_checked_in_at) {
    title = fmt(S.already_at, { time: clock(data.first_checked_in_at) });
  } else if (reason === "other_course" && data.other_course) {
    title = fmt(S.other_course_named, { course: data.other_course.title });
  }
  const person = data.participant;
  paint(kind, reason, {
    title,
    name: person ? person.name : "",
    unit: person ? person.unit : "",
    position: person ? person.position : "",
    detail: data.session ? fmt(S.session_label, { title: data.session.title }) : "",
  });
  ui.result.dataset.scanId = String(data.scan_id);
  stats.answers.push({ at: performance.now(), reason, name: person ? person.name : "", scanId: data.scan_id });
  if (data.accepted) offerUndo(data.scan_id);
  feedback(kind);
}

function showBusy(text) {
  paint("busy", "", { title: text });
}

function showRefusal(text, reason) {
  paint("bad", reason, { title: text });
  feedback("bad");
}

function paint(kind, reason, { title = "", name = "", unit = "", position = "", detail = "" }, source = "server") {
  clearUndo();
  ui.result.hidden = false;
  ui.result.className = `result state-${kind}`;
  ui.result.dataset.source = source;
  ui.source.hidden = source !== "offline";
  // Two green answers in a row must still look like two: replay a short pulse on every answer.
  void ui.result.offsetWidth;
  if (kind !== "busy" && kind !== "idle") ui.result.classList.add("fresh");
  ui.result.dataset.reason = reason;
  ui.title.textContent = title;
  ui.name.textContent = name;
  ui.unit.textContent = unit;
  ui.position.textContent = position;
  ui.detail.textContent = detail;
  focusWedge();
}

// --- undo ------------------------------------------------------------------------------------

function offerUndo(scanId) {
  ui.undo.hidden = false;
  ui.undo.dataset.scanId = String(scanId);
  state.undoTimer = setTimeout(clearUndo, UNDO_VISIBLE_MS);
}

function clearUndo() {
  clearTimeout(state.undoTimer);
  state.undoTimer = null;
  ui.undo.hidden = true;
  delete ui.undo.dataset.scanId;
}

async function undoLast() {
  const scanId = ui.undo.dataset.scanId;
  if (!scanId) return;
  ui.undo.disabled = true;
  let answer = null;
  for (const delay of [0, 800, 2000]) {
    if (delay) await sleep(delay);
    try {
      answer = await api(`/api/v1/scans/${scanId}/undo`, { method: "POST", body: {} });
      if (answer.status < 500) break;
    } catch {
      answer = null;
    }
  }
  ui.undo.disabled = false;
  const name = ui.name.textContent;
  const unit = ui.unit.textContent;
  const departure = ui.result.dataset.reason === "checked_out";
  if (answer && answer.status === 200) {
    state.shownSeq = ++state.seq;
    paint("undone", "undone", { title: departure ? S.departure_undone : S.undone, name, unit });
    feedback("warn");
    refreshCounts();
  } else if (answer && DEVICE_REFUSALS.has(errorCode(answer))) {
    unpaired(errorCode(answer));
  } else {
    const message = answer && answer.data && answer.data.error ? answer.data.error.message : S.gave_up;
    paint("bad", errorCode(answer) || "network", { title: S.undo_failed, name, detail: message });
  }
}

// --- search ----------------------------------------------------------------------------------

function folded(text) {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").replace(/\s+/g, "");
}

function scheduleSearch() {
  clearTimeout(state.searchTimer);
  state.searchTimer = setTimeout(runSearch, 250);
}

async function runSearch() {
  const query = ui.search.value.trim();
  const seq = ++state.searchSeq;
  if (folded(query).length < 3) {
    ui.searchResults.replaceChildren();
    ui.searchStatus.textContent = query ? S.search_short : "";
    return;
  }
  let results = null;
  let offline = state.net === "offline" || navigator.onLine === false;
  if (!offline) {
    let answer;
    try {
      answer = await api(`/api/v1/participants?q=${encodeURIComponent(query)}`, { timeoutMs: OFFLINE_AFTER_MS });
    } catch {
      offline = true;
    }
    if (seq !== state.searchSeq) return; // a newer query is under way
    if (answer && answer.status !== 200) {
      if (DEVICE_REFUSALS.has(errorCode(answer))) unpaired(errorCode(answer));
      return;
    }
    if (answer) results = answer.data.results;
  }
  if (offline) {
    // Without the server: the same search in the offline copy (names only, at most 10).
    try {
      results = await offlineCopy.search(query);
    } catch {
      results = null;
    }
    if (seq !== state.searchSeq) return;
    if (results === null) {
      ui.searchStatus.textContent = S.retrying;
      return;
    }
  }
  const items = results.map((person) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "person";
    button.dataset.participantId = String(person.participant_id);
    const name = document.createElement("strong");
    name.textContent = person.name;
    const more = document.createElement("span");
    more.textContent = [person.position, person.unit].filter(Boolean).join(" · ");
    button.append(name, more);
    const item = document.createElement("li");
    item.append(button);
    return item;
  });
  ui.searchResults.replaceChildren(...items);
  ui.searchResults.dataset.source = offline ? "offline" : "server";
  ui.searchStatus.textContent = items.length ? S.search_count : S.search_none;
}

function pickPerson(event) {
  const button = event.target.closest("button.person");
  if (!button) return;
  const participantId = Number(button.dataset.participantId);
  ui.search.value = "";
  ui.searchResults.replaceChildren();
  ui.searchStatus.textContent = "";
  button.blur();
  submitScan({ participant_id: participantId, method: "search" });
}

// --- keyboard-wedge scanner ------------------------------------------------------------------

function typing(el) {
  return el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA" || el.isContentEditable);
}

// The wedge takes the focus only when nobody is typing elsewhere (the search box keeps its focus).
function focusWedge() {
  if (ui.manual.hidden || typing(document.activeElement)) return;
  ui.wedge.focus({ preventScroll: true });
}

function wedgeSubmit(event) {
  event.preventDefault();
  const code = ui.wedge.value.trim();
  ui.wedge.value = "";
  if (code) submitScan({ code, method: "camera" });
}

// A scanner gun types into whatever has the focus: if that is no text field, send it to the wedge.
function catchStrayKeys(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) return;
  if (typing(document.activeElement) || ui.manual.hidden) return;
  ui.wedge.focus({ preventScroll: true });
}

// --- feedback --------------------------------------------------------------------------------

const TONES = {
  ok: { wave: "sine", notes: [[1046, 0, 0.14]], vibrate: [90] },
  warn: { wave: "triangle", notes: [[660, 0, 0.11], [660, 0.17, 0.11]], vibrate: [70, 70, 70] },
  bad: { wave: "square", notes: [[220, 0, 0.22], [180, 0.26, 0.3]], vibrate: [300, 120, 300] },
  // Leaving: a falling three-note chime, unlike the single high beep of a check-in.
  out: { wave: "sine", notes: [[784, 0, 0.1], [587, 0.12, 0.1], [392, 0.24, 0.2]], vibrate: [40, 40, 40, 40, 160] },
};

function unlockAudio() {
  if (state.audio) return;
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  try {
    state.audio = new Context();
  } catch {
    state.audio = null;
  }
}

function feedback(kind) {
  const tone = TONES[kind];
  if (!tone) return;
  if (navigator.vibrate && navigator.userActivation && navigator.userActivation.hasBeenActive) {
    navigator.vibrate(tone.vibrate);
  }
  const ctx = state.audio;
  if (!ctx) return;
  if (ctx.state === "suspended") ctx.resume().catch(() => {});
  for (const [frequency, offset, duration] of tone.notes) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = tone.wave;
    osc.frequency.value = frequency;
    const t = ctx.currentTime + offset;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.25, t + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + duration);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t);
    osc.stop(t + duration + 0.02);
  }
}

// --- offline: indicator, sync, copy refresh, queue report ------------------------------------

function setNet(net) {
  if (state.net === net) return;
  state.net = net;
  showNet();
  if (net === "online") kickSync();
}

function showNet() {
  if (!state.token) return;
  ui.net.hidden = false;
  const net = state.syncing ? "syncing" : state.net;
  ui.net.dataset.net = net;
  ui.net.dataset.queued = String(state.queued);
  ui.netState.textContent = { online: S.net_online, offline: S.net_offline, syncing: S.net_syncing }[net];
  ui.netQueue.textContent = state.queued ? fmt(S.net_queued, { n: state.queued }) : "";
  ui.netQueue.hidden = !state.queued;
  if (state.copyAt) {
    const minutes = Math.max(0, Math.floor((Date.now() - state.copyAt) / 60_000));
    ui.copyAge.textContent = minutes < 1 ? S.copy_fresh : fmt(S.copy_age, { n: minutes });
  } else {
    ui.copyAge.textContent = S.copy_none;
  }
}

function kickSync() {
  if (!state.syncing && state.token && state.queued) trySync();
}

// Send the queue (one run at a time), then show what the server decided otherwise, and report.
async function trySync() {
  if (state.syncing || !state.token) return;
  let run;
  state.syncing = (async () => {
    showNet();
    // One sender per phone, even with the scanner open in two tabs (they share the queue).
    run = navigator.locks
      ? await navigator.locks.request("checkin-offline-sync", () => queue.sync(api))
      : await queue.sync(api);
  })();
  try {
    await state.syncing;
  } catch (err) {
    console.warn("sync:", err);
  } finally {
    state.syncing = null;
  }
  if (!run) return;
  if (run.refused) {
    unpaired(run.refused, { queueSent: true });
    return;
  }
  state.queued = await queue.size();
  if (run.sent) {
    setNet("online");
    state.statusDirty = true;
    if (!state.queued) state.lastSyncAt = new Date(serverNow()).toISOString();
    if (run.overruled.length) {
      const { overruled = [] } = await idb.getMeta(["overruled"]);
      await idb.setMeta({ overruled: overruled.concat(run.overruled).slice(-500) });
    }
    showChanges(await queue.keepChanges(run.changes));
    refreshCounts();
    refreshCopy();
    reportStatus();
  } else if (state.queued) {
    setNet("offline");
  }
  showNet();
}

function reasonText(reason, firstAt) {
  if (reason === "already_checked_in" && firstAt) return fmt(S.already_at, { time: clock(firstAt) });
  if (reason === "queued") return S.saved_offline;
  return S[reason] || reason;
}

// Where the server changed its mind: "Nguyễn Thị Hương: offline Checked in -> Already checked in at 07:52".
function showChanges(changes) {
  if (!changes || !changes.length) return;
  const items = changes.map((change) => {
    const item = document.createElement("li");
    item.dataset.reason = change.reason;
    item.dataset.offlineReason = change.offline;
    item.textContent = fmt(S.change_line, {
      name: change.name || "?", time: clock(change.at), offline: reasonText(change.offline),
      server: reasonText(change.reason, change.firstAt),
    });
    return item;
  });
  ui.changesList.replaceChildren(...items);
  ui.changes.hidden = false;
}

async function refreshCopy() {
  if (!state.token || state.net === "offline") return;
  let answer;
  try {
    answer = await offlineCopy.refresh(api);
  } catch {
    return; // the next tick tries again; the copy we hold stays
  }
  if (answer.status === 200) {
    state.copyStale = false;
    state.copyAt = Date.now();
    state.offset = Date.parse(answer.data.server_time) - Date.now();
    state.expiresAt = Date.parse(answer.data.device.expires_at);
    root.dataset.copyCursor = answer.data.cursor;
    root.dataset.offlineCopy = "ready";
    showNet();
  } else if (DEVICE_REFUSALS.has(errorCode(answer))) {
    unpaired(errorCode(answer));
  }
}

// The organiser's devices page shows each phone's queue and last sync from these reports.
async function reportStatus() {
  if (!state.token || state.net === "offline") return;
  const items = await queue.pending();
  const { overruled = [] } = await idb.getMeta(["overruled"]);
  const body = {
    queued: items.length, oldest_queued_at: items.length ? items[0].scanned_at : null,
    last_sync_at: state.lastSyncAt, overruled,
  };
  try {
    const answer = await api("/api/v1/device/status", { method: "POST", body });
    if (answer.status === 200) {
      state.statusAt = Date.now();
      state.statusDirty = false;
      if (overruled.length) await idb.setMeta({ overruled: [] });
    } else if (DEVICE_REFUSALS.has(errorCode(answer))) {
      unpaired(errorCode(answer));
    }
  } catch {
    // Reported at the next tick.
  }
}

async function tick() {
  if (!state.token || state.forgetting || state.ticking) return;
  state.ticking = true;
  try {
    await tickOnce();
  } finally {
    state.ticking = false;
  }
}

async function tickOnce() {
  if (state.expiredQueue) {
    // An expired phone with scans it made in time: send them when it can, then forget everything.
    const run = await queue.sync(api).catch(() => null);
    if (run && (run.refused || !run.left)) {
      state.expiredQueue = false;
      await unpaired("device_expired", { queueSent: true });
    } else {
      state.queued = await queue.size();
      showExpiredQueue();
    }
    return;
  }
  // The pairing ends at the device's expiry even when no server is there to say so.
  if (state.expiresAt && serverNow() >= state.expiresAt && !state.expiredQueue) {
    unpaired("device_expired");
    return;
  }
  if (navigator.onLine === false) setNet("offline");
  if (state.net === "offline" && !state.chosenSessionId) {
    const current = offlineCopy.pickSession(state.sessions, serverNow());
    const id = current ? current.id : null;
    if (id !== state.currentSessionId) {
      state.currentSessionId = id;
      fillSessions();
      showSession();
      showCounts();
    }
  }
  if (state.queued) {
    await trySync(); // also how an offline phone notices that the network is back
  } else if (state.net === "offline" && navigator.onLine !== false) {
    if (await loadDevice()) setNet("online");
  }
  if (state.net !== "offline" && (state.copyStale || !state.copyAt || Date.now() - state.copyAt > COPY_REFRESH_MS)) {
    await refreshCopy();
  }
  if (state.net !== "offline" && (state.statusDirty || Date.now() - state.statusAt > STATUS_EVERY_MS)) await reportStatus();
  showNet();
}

async function keepOffline() {
  if (!("serviceWorker" in navigator)) return;
  try {
    await navigator.serviceWorker.register("/usher/sw.js", { scope: "/usher" });
    const registration = await navigator.serviceWorker.ready;
    // Not while the camera starts and the first badges are answered: when the page is idle.
    await new Promise((resolve) => (window.requestIdleCallback ? requestIdleCallback(resolve, { timeout: 3000 }) : setTimeout(resolve, 1000)));
    if (!(await nativeReadsQr())) {
      // This phone decodes with the WebAssembly build: keep it too, or a reload offline cannot scan.
      const channel = new MessageChannel();
      const kept = new Promise((resolve) => {
        channel.port1.onmessage = ({ data }) => resolve(data);
      });
      registration.active.postMessage("keep-decoder", [channel.port2]);
      const answer = await kept;
      if (answer !== "kept") throw new Error(answer);
    }
    root.dataset.offlinePage = "ready";
  } catch (err) {
    console.warn("the scanner page will not open without a network:", err);
  }
}

// --- start -----------------------------------------------------------------------------------

function boot() {
  try {
    state.token = localStorage.getItem(TOKEN_KEY);
  } catch {
    state.token = null;
  }
  if (!state.token) {
    unpaired("");
    return;
  }
  ui.start.addEventListener("click", () => {
    unlockAudio();
    startCamera();
  });
  ui.sessionSelect.addEventListener("change", () => {
    state.chosenSessionId = ui.sessionSelect.value ? Number(ui.sessionSelect.value) : null;
    showSession();
    refreshCounts();
  });
  ui.undo.addEventListener("click", undoLast);
  try {
    if (sessionStorage.getItem(DIRECTION_KEY) === "out") state.direction = "out";
  } catch {
    state.direction = "in";
  }
  ui.directionToggle.addEventListener("click", toggleDirection);
  ui.search.addEventListener("input", scheduleSearch);
  ui.searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    runSearch();
  });
  ui.searchResults.addEventListener("click", pickPerson);
  ui.wedgeForm.addEventListener("submit", wedgeSubmit);
  document.addEventListener("keydown", catchStrayKeys, true);
  document.addEventListener("pointerdown", unlockAudio, { once: true });
  document.addEventListener("visibilitychange", onVisible);
  window.addEventListener("online", () => tick());
  window.addEventListener("offline", () => setNet("offline"));
  keepOffline();
  (async () => {
    const fromCopy = await loadDoorFromCopy();
    try {
      state.queued = await queue.size();
      showChanges(((await idb.getMeta(["changes"])).changes || []));
    } catch {
      state.queued = 0;
    }
    if (fromCopy) focusWedge();
    const ok = navigator.onLine === false ? false : await loadDevice();
    if (ok) focusWedge();
    if (!ok && fromCopy) setNet("offline");
    showNet();
    if (state.token) await tick();
    if (state.token && !root.dataset.offlineCopy) root.dataset.offlineCopy = state.copyAt ? "ready" : "none";
    setInterval(tick, TICK_MS);
  })();
  setInterval(() => {
    if (state.token && state.net !== "offline") refreshCounts();
  }, COUNT_REFRESH_MS);
  setInterval(async () => {
    if (!state.token || state.net === "offline") return;
    const before = state.currentSessionId;
    if ((await loadDevice()) && before !== state.currentSessionId) refreshCounts();
  }, DEVICE_REFRESH_MS);
}

boot();
