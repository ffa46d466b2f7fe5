// The cadre's own phone checks them in with the room code: the camera reads the code on the organisers' screen
// (the scanner's decoder, qr-decoder.js) and the page posts it with this phone's key. The first phone used for a
// badge is the one it is bound to; the server refuses any other.
import { createDetector, scanLoop } from "./qr-decoder.js";

const $ = (id) => document.getElementById(id);
const S = JSON.parse($("room-strings").textContent);
const root = $("room");
const KEY = "checkin.roomDeviceKey";
const KIND = { checked_in: "ok", checked_in_late: "warn", already_checked_in: "warn" };
const stats = { decodedAt: null, answeredAt: null, answers: [] };
window.checkinRoom = stats;
let stop = null;
let stream = null;
let busy = false;

function deviceKey() {
  let key = null;
  try {
    key = localStorage.getItem(KEY);
    if (!key) {
      const bytes = crypto.getRandomValues(new Uint8Array(24));
      key = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      localStorage.setItem(KEY, key);
    }
  } catch {
    key = null;
  }
  return key;
}

function show(kind, title, detail = "") {
  const result = $("room-result");
  result.className = `result state-${kind}`;
  $("room-title").textContent = title;
  $("room-detail").textContent = detail;
}

function finish() {
  if (stop) stop();
  stop = null;
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  $("room-camera").hidden = true;
  $("room-start").hidden = false;
}

async function onCode(text) {
  if (busy || !text.startsWith("CHKROOM.")) {
    if (!busy) show("bad", S.not_a_room_code);
    return;
  }
  busy = true;
  stats.decodedAt = performance.now();
  show("busy", S.sending);
  try {
    const response = await fetch(root.dataset.url, {
      method: "POST", cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ room_code: text, device_key: deviceKey() }),
    });
    const data = await response.json();
    stats.answeredAt = performance.now();
    if (!response.ok) {
      stats.answers.push({ code: data.error && data.error.code });
      show("bad", (data.error && data.error.message) || S.network);
      root.dataset.state = data.error ? data.error.code : "error";
      return;
    }
    stats.answers.push({ reason: data.reason });
    root.dataset.state = data.reason;
    const detail = data.session ? S.session_label.replace("{title}", data.session.title) : "";
    show(KIND[data.reason] || "bad", S[data.reason] || data.reason, detail);
    if (data.accepted || data.reason === "already_checked_in" || data.reason === "other_device") finish();
  } catch {
    show("bad", S.network);
  } finally {
    busy = false;
  }
}

async function start() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    show("bad", S.camera_needs_https);
    return;
  }
  $("room-start").disabled = true;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false, video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
    const video = $("room-camera");
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const detector = await createDetector();
    stop = scanLoop(video, detector, onCode, { sameCodeQuietMs: 1500 });
    $("room-start").hidden = true;
    root.dataset.state = "scanning";
    show("idle", S.camera_on);
  } catch (err) {
    console.warn("camera:", err);
    finish();
    show("bad", S.camera_denied);
  } finally {
    $("room-start").disabled = false;
  }
}

$("room-start").addEventListener("click", start);
