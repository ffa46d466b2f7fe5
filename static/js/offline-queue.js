// Scans answered offline wait here (IndexedDB) until the server can take them, then go in the order
// they were made: POST /api/v1/scans with method "sync", the time they happened and their nonce, so a
// scan sent twice (an answer lost on the way back) is still one scan.

import * as idb from "./offline-store.js";
import { ACCEPTED, noteCheckin } from "./offline-copy.js";

export const DEVICE_REFUSALS = new Set(["device_revoked", "device_expired", "device_token_invalid", "device_token_missing"]);
const CHANGES_KEPT = 20;

const pairKey = (enrolmentId, sessionId) => `${enrolmentId}:${sessionId}`;

/**
 * Keep a scan for the server; with an offline admission, remember it in the copy too, so the same
 * badge again answers "already checked in". Resolves once it is on disk.
 */
export function enqueue(entry, offline) {
  return idb.run(["queue", "local"], "readwrite", (tx) => {
    tx.objectStore("queue").add({ ...entry, offline });
    if (offline && offline.accepted && offline.sessionId) {
      tx.objectStore("local").put({ at: Date.parse(entry.scanned_at), nonce: entry.nonce },
        pairKey(offline.enrolmentId, offline.sessionId));
    }
  }, "strict");
}

export function pending() {
  return idb.getAll("queue");
}

export function size() {
  return idb.count("queue");
}

function errorCode(answer) {
  return answer && answer.data && answer.data.error ? answer.data.error.code : "";
}

/** Drop a synced scan from the queue (and its local admission: the server's verdict replaces it). */
function settle(item) {
  return idb.run(["queue", "local"], "readwrite", async (tx) => {
    tx.objectStore("queue").delete(item.seq);
    const off = item.offline;
    if (off && off.accepted && off.sessionId) {
      const key = pairKey(off.enrolmentId, off.sessionId);
      const local = await idb.value(tx.objectStore("local").get(key));
      if (local && local.nonce === item.nonce) tx.objectStore("local").delete(key);
    }
  }, "strict");
}

/**
 * Send the queue, oldest first. `api` is the page's fetch wrapper. Stops at the first network failure
 * or server error (the rest waits for the next try). Resolves to
 *   { sent, left, refused: device refusal code or "", changes: [{ item, answer }] }
 * where changes are the scans the server decided otherwise than the offline answer.
 * A phone the server refuses (revoked, expired) still sends every queued scan: each is stored as a
 * refused scan (reason device_revoked / device_expired), so the organiser sees what it tried, and
 * none is counted.
 */
export async function sync(api, { timeoutMs = 8000 } = {}) {
  const items = await pending();
  const result = { sent: 0, left: items.length, refused: "", changes: [], overruled: [] };
  for (const item of items) {
    const body = {
      nonce: item.nonce, scanned_at: item.scanned_at, method: "sync",
      ...(item.code != null ? { code: item.code } : { participant_id: item.participant_id }),
      ...(item.session_id ? { session_id: item.session_id } : {}),
    };
    let answer;
    try {
      answer = await api("/api/v1/scans", { method: "POST", body, timeoutMs });
    } catch {
      if (result.refused) continue; // unpaired anyway: what cannot be sent now is dropped below
      break;
    }
    if (answer.status >= 500) {
      if (result.refused) continue;
      break;
    }
    const code = errorCode(answer);
    if (DEVICE_REFUSALS.has(code)) {
      result.refused = result.refused || code;
      if (code === "device_token_invalid" || code === "device_token_missing") break; // nothing is recorded
      continue;
    }
    await settle(item);
    result.sent += 1;
    result.left -= 1;
    const off = item.offline || {};
    if (answer.status === 200) {
      const data = answer.data;
      const enrolmentId = off.enrolmentId;
      if (enrolmentId && data.session && (data.accepted || data.reason === "already_checked_in")) {
        const at = Date.parse(data.accepted ? data.scanned_at : data.first_checked_in_at || data.scanned_at);
        await noteCheckin(enrolmentId, data.session.id, at);
      }
      if (data.reason !== off.reason) {
        result.changes.push({ item, answer: data });
        if (ACCEPTED.has(off.reason) && !data.accepted) result.overruled.push({ nonce: item.nonce, offline_reason: off.reason });
      }
    } else {
      // Refused as a request (a clock far off, a session deleted since): nothing was stored.
      result.changes.push({ item, answer: { reason: code || "error", accepted: false, error: answer.data && answer.data.error } });
    }
  }
  return result;
}

/** Remember the latest corrections for the usher to see (a reload keeps them). */
export async function keepChanges(changes) {
  if (!changes.length) return [];
  const { changes: before = [] } = await idb.getMeta(["changes"]);
  const after = changes.map(({ item, answer }) => ({
    at: item.scanned_at, offline: item.offline ? item.offline.reason : "", reason: answer.reason,
    name: answer.participant ? answer.participant.name : (item.offline && item.offline.name) || "",
    firstAt: answer.first_checked_in_at || null,
  })).reverse().concat(before).slice(0, CHANGES_KEPT);
  await idb.setMeta({ changes: after });
  return after;
}
