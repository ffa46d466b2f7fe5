// The door's counters ("this phone", "session total") as this phone knows them: the last count the server
// gave for each session, kept in the phone's storage (meta "counts"), plus the people this phone admitted
// offline that the server has not heard of yet (accepted scans still in the queue). A reload without network
// shows that sum instead of 0; online, the server's count replaces it as soon as it answers.
//   meta "counts" = { device: device id, sessions: { sessionId: { device: n, session: n } } }

import * as idb from "./offline-store.js";

const KEY = "counts";

/** Keep the server's count for a session (GET /api/v1/sessions/{id}/count). */
export function remember(deviceId, sessionId, { device, session }) {
  return idb.run(["meta"], "readwrite", async (tx) => {
    const meta = tx.objectStore("meta");
    const stored = await idb.value(meta.get(KEY));
    const counts = stored && stored.device === deviceId ? stored : { device: deviceId, sessions: {} };
    counts.sessions[sessionId] = { device, session };
    meta.put(counts, KEY);
  });
}

/**
 * In the transaction that drops synced scans from the queue: each the server accepted now counts in the
 * server's figures, so it moves from "admitted offline" to the kept count (until the next count replaces it).
 */
export async function settled(tx, sessionIds) {
  if (!sessionIds.length) return;
  const meta = tx.objectStore("meta");
  const counts = await idb.value(meta.get(KEY));
  if (!counts) return;
  for (const id of sessionIds) {
    const kept = counts.sessions[id];
    if (kept) counts.sessions[id] = { device: kept.device + 1, session: kept.session + 1 };
  }
  meta.put(counts, KEY);
}

/**
 * What the counters show for a session: { device, session }, or null when nothing is known (no count from
 * the server and nothing admitted offline).
 */
export function estimate(deviceId, sessionId) {
  return idb.run(["meta", "queue"], "readonly", async (tx) => {
    const [stored, queued] = await Promise.all([
      idb.value(tx.objectStore("meta").get(KEY)), idb.value(tx.objectStore("queue").getAll()),
    ]);
    const kept = stored && stored.device === deviceId ? stored.sessions[sessionId] : null;
    const offline = queued.filter((item) => item.offline && item.offline.accepted && item.offline.sessionId === sessionId)
      .length;
    if (!kept && !offline) return null;
    return { device: (kept ? kept.device : 0) + offline, session: (kept ? kept.session : 0) + offline };
  });
}
