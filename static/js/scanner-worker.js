// Decodes camera frames off the page's main thread, so the answer, the sound and the scroll stay
// smooth on slow phones. Uses the same decoder choice as the page (qr-decoder.js): the native
// BarcodeDetector where workers have one with QR, else the vendored WebAssembly ponyfill.
//   in:  { id, bitmap }  (an ImageBitmap, transferred)
//   out: { ready: kind } once, then { id, codes: [{ rawValue }] } or { id, error }

import { createDetector } from "./qr-decoder.js";

const detector = createDetector();

detector.then(
  (d) => postMessage({ ready: d.kind }),
  (err) => postMessage({ failed: String(err && err.message ? err.message : err) }),
);

onmessage = async ({ data }) => {
  const { id, bitmap } = data;
  try {
    const found = await (await detector).detect(bitmap);
    postMessage({ id, codes: found.map(({ rawValue }) => ({ rawValue })) });
  } catch (err) {
    postMessage({ id, error: String(err && err.message ? err.message : err) });
  } finally {
    bitmap.close();
  }
};
