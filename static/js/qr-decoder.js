// QR decoding for the scanner page: the native BarcodeDetector where it reads QR codes, else the
// vendored barcode-detector ponyfill (ZXing-C++ as WebAssembly) served from our own origin.
//
//   const detector = await createDetector();
//   const stop = scanLoop(video, detector, (text) => postScan(text), { onFrame: (ms) => ... });

const VENDOR_DIR = new URL("../vendor/barcode-detector/", import.meta.url);

/**
 * Resolve to { kind: "native" | "wasm", detect(source) -> Promise<[{rawValue, cornerPoints, boundingBox, format}]> }.
 * `source` is anything BarcodeDetector.detect accepts (video, canvas, ImageBitmap, ImageData, ...).
 * Options: preferNative (default true), wasmDir (URL of the directory holding zxing_reader.wasm).
 */
export async function createDetector({ preferNative = true, wasmDir = VENDOR_DIR } = {}) {
  if (preferNative && (await nativeReadsQr())) {
    return wrap(new globalThis.BarcodeDetector({ formats: ["qr_code"] }), "native");
  }
  const ponyfill = await import(new URL("ponyfill.js", VENDOR_DIR).href);
  const base = new URL(wasmDir, location.href).href.replace(/\/?$/, "/");
  // The ponyfill would fetch its .wasm from a public CDN; a venue without internet must still
  // scan, so point it at our copy. fireImmediately loads it now: failures surface here, not on
  // the first badge. The same overrides object is reused by every detector afterwards.
  await ponyfill.prepareZXingModule({
    overrides: {
      locateFile: (path, prefix) => (path.endsWith(".wasm") ? base + path : prefix + path),
    },
    fireImmediately: true,
  });
  return wrap(new ponyfill.BarcodeDetector({ formats: ["qr_code"] }), "wasm");
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

function wrap(barcodeDetector, kind) {
  return {
    kind,
    async detect(source) {
      const found = await barcodeDetector.detect(source);
      return found.map(({ rawValue, cornerPoints, boundingBox, format }) => ({
        rawValue,
        cornerPoints,
        boundingBox,
        format,
      }));
    },
  };
}

/**
 * Decode `video` continuously and call onCode(text) once per badge held up: a text seen again
 * within sameCodeQuietMs of its last sighting is ignored, so holding a badge still is one scan.
 * onFrame(ms, codes) gets each decode's duration; onError(err) gets decode errors (the loop keeps
 * going). Returns stop().
 */
export function scanLoop(
  video,
  detector,
  onCode,
  { sameCodeQuietMs = 3000, onFrame = null, onError = warnOnce(), fallbackIntervalMs = 100 } = {},
) {
  const lastSeen = new Map(); // text -> time of last sighting
  const useFrameCallback = typeof video.requestVideoFrameCallback === "function";
  let stopped = false;
  let handle = null;

  const schedule = () => {
    if (stopped) return;
    handle = useFrameCallback
      ? video.requestVideoFrameCallback(tick)
      : setTimeout(tick, fallbackIntervalMs);
  };

  async function tick() {
    handle = null;
    if (stopped) return;
    // HAVE_CURRENT_DATA or better; before that there is no frame to read.
    if (video.readyState >= 2 && video.videoWidth > 0) {
      const started = performance.now();
      try {
        const codes = await detector.detect(video);
        const now = performance.now();
        if (onFrame) onFrame(now - started, codes);
        if (!stopped) report(codes, now);
      } catch (err) {
        onError(err);
      }
    }
    schedule();
  }

  function report(codes, now) {
    for (const [text, seen] of lastSeen) {
      if (now - seen > sameCodeQuietMs) lastSeen.delete(text);
    }
    for (const { rawValue } of codes) {
      if (!rawValue) continue;
      const isNew = !lastSeen.has(rawValue);
      lastSeen.set(rawValue, now);
      if (isNew) {
        // Not awaited: a slow upload must not stall the camera. Errors still get reported.
        Promise.resolve()
          .then(() => onCode(rawValue))
          .catch(onError);
      }
    }
  }

  schedule();
  return function stop() {
    stopped = true;
    if (handle === null) return;
    if (useFrameCallback) video.cancelVideoFrameCallback(handle);
    else clearTimeout(handle);
    handle = null;
  };
}

function warnOnce() {
  const seen = new Set();
  return (err) => {
    const key = String(err && err.message ? err.message : err);
    if (seen.has(key)) return;
    seen.add(key);
    console.warn("qr-decoder:", err);
  };
}
