// Test page for test_decoder.py: camera -> scanLoop -> #result, with what happened in window.scan.
import { createDetector, scanLoop } from "/static/js/qr-decoder.js";

const params = new URLSearchParams(location.search);
const quietMs = Number(params.get("quiet") ?? 3000);
const state = { kind: null, codes: [], frameMs: [], started: null };
window.scan = state;

const video = document.getElementById("camera");
const result = document.getElementById("result");
const status = document.getElementById("status");

try {
  const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  video.srcObject = stream;
  await video.play();
  const detector = await createDetector();
  state.kind = detector.kind;
  state.started = performance.now();
  window.stopScan = scanLoop(
    video,
    detector,
    (text) => {
      state.codes.push({ text, at: performance.now() - state.started });
      result.textContent = text;
    },
    { sameCodeQuietMs: quietMs, onFrame: (ms) => state.frameMs.push(ms) },
  );
  status.textContent = `scanning (${detector.kind})`;
} catch (err) {
  status.textContent = `failed: ${err}`;
  throw err;
}
