// The scanner's durable storage (IndexedDB): the offline copy of the course, the scans admitted here
// while offline, and the queue of scans waiting for the server. Survives a reload, a closed tab and a
// restarted phone. Stores:
//   meta      key -> value (cursor, salt, course, sessions, device, time offset, fetched at, changes)
//   badges    hash of a badge code -> [enrolmentId, revoked 0|1]      (never the code itself)
//   people    enrolmentId -> [name, unit, position]
//   checkins  "enrolmentId:sessionId" -> ms since epoch    (the server's view, as of the copy)
//   local     "enrolmentId:sessionId" -> { at, nonce }    (admitted offline by this phone, not yet synced)
//   queue     seq (auto) -> { nonce, code | participant_id, session_id, scanned_at, offline }

const DB_NAME = "checkin-offline";
const DB_VERSION = 1;
export const COPY_STORES = ["meta", "badges", "people", "checkins"];
export const ALL_STORES = [...COPY_STORES, "local", "queue"];

let opening = null;

export function openDb() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        for (const name of COPY_STORES.concat(["local"])) db.createObjectStore(name);
        db.createObjectStore("queue", { keyPath: "seq", autoIncrement: true });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("offline storage is blocked by another tab"));
    });
    opening.catch(() => {
      opening = null;
    });
  }
  return opening;
}

function finished(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("storage transaction aborted"));
  });
}

export function value(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * Run fn(tx) in one transaction over `stores`; resolves with fn's result once the transaction has
 * committed. Queue writes ask for strict durability: flushed to disk before we say "saved".
 */
export async function run(stores, mode, fn, durability = "default") {
  const db = await openDb();
  const tx = db.transaction(stores, mode, { durability });
  const done = finished(tx);
  const result = await fn(tx);
  await done;
  return result;
}

export function get(store, key) {
  return run([store], "readonly", (tx) => value(tx.objectStore(store).get(key)));
}

export function getMany(store, keys) {
  return run([store], "readonly", (tx) => Promise.all(keys.map((key) => value(tx.objectStore(store).get(key)))));
}

export function getAll(store) {
  return run([store], "readonly", (tx) => value(tx.objectStore(store).getAll()));
}

export function count(store) {
  return run([store], "readonly", (tx) => value(tx.objectStore(store).count()));
}

export function setMeta(entries) {
  return run(["meta"], "readwrite", (tx) => {
    for (const [key, val] of Object.entries(entries)) tx.objectStore("meta").put(val, key);
  });
}

export async function getMeta(keys) {
  const values = await getMany("meta", keys);
  return Object.fromEntries(keys.map((key, i) => [key, values[i]]));
}

/** Forget everything: the copy, the local admissions and the queue (an unpaired or expired phone). */
export function wipe() {
  return run(ALL_STORES, "readwrite", (tx) => {
    for (const name of ALL_STORES) tx.objectStore(name).clear();
  }, "strict");
}
