// Scans answered offline wait here (IndexedDB) until the server can take them, then go in the order
// they were made: POST /api/v1/scans with method "sync", the time they happened and their nonce, so a
// scan sent twice (an answer lost on the way back) is still one scan.

import * as idb from "./offline-store.js";
import { ACCEPTED } from "./offline-copy.js";
import * as counts from "./offline-counts.js";

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

const SEND_AT_ONCE = 6; // Chromium's connections per server over HTTP/1.1

/**
 * Drop synced scans from the queue, with their local admissions (the server's verdict replaces them),
 * and note that verdict in the copy and in the kept counters, all in one transaction. Not flushed at
 * once: if a crash loses this, those scans are sent again, and their nonces make them replays.
 */
function settle(done) {
  if (!done.length) return Promise.resolve();
  return idb.run(["queue", "local", "checkins", "meta"], "readwrite", async (tx) => {
    const local = tx.objectStore("local");
    await counts.settled(tx, done.filter((d) => d.acceptedIn).map((d) => d.acceptedIn));
    for (const { item, checkin } of done) {
      tx.objectStore("queue").delete(item.seq);
      if (checkin) tx.objectStore("checkins").put(checkin.at, pairKey(checkin.enrolmentId, checkin.sessionId));
      const off = item.offline;
      if (off && off.accepted && off.sessionId) {
        const key = pairKey(off.enrolmentId, off.sessionId);
        const mark = await idb.value(local.get(key));
        if (mark && mark.nonce === item.nonce) local.delete(key);
      }
    }
  });
}

/**
 * Send the queue in the order it was made. `api` is the page's fetch wrapper. Up to SEND_AT_ONCE scans
 * are in flight together, but never two of the same badge: the rule's answer for one person and session
 * depends only on that person's earlier scans there, so this is the order the server needs, and a long
 * queue drains several times faster than one request after the other.
 * Stops sending at the first network failure or server error (the rest waits for the next try).
 * Resolves to { sent, left, refused: device refusal code or "", changes: [{ item, answer }], overruled }
 * where changes are the scans the server decided otherwise than the offline answer.
 * A phone the server refuses (revoked, expired) still sends every queued scan: each is stored as a
 * refused scan (reason device_revoked / device_expired), so the organiser sees what it tried, and
 * none is counted.
 */
export async function sync(api, { timeoutMs = 8000 } = {}) {
  const items = await pending();
  const result = { sent: 0, left: items.length, refused: "", changes: [], overruled: [] };
  const outcomes = new Map(); // seq -> { item, checkin, change } for the scans the server took
  const lastOfBadge = new Map(); // code or participant -> promise of "sent" | "failed"
  const running = new Set();
  let stop = false;

  async function sendOne(item, before) {
    if (before && (await before) !== "sent") return "failed"; // the badge's earlier scan is still queued
    if (stop) return "failed";
    const body = {
      nonce: item.nonce, scanned_at: item.scanned_at, method: "sync",
      ...(item.code != null ? { code: item.code } : { participant_id: item.participant_id }),
      ...(item.session_id ? { session_id: item.session_id } : {}),
      ...(item.direction ? { direction: item.direction } : {}),
    };
    let answer;
    try {
      answer = await api("/api/v1/scans", { method: "POST", body, timeoutMs });
    } catch {
      if (!result.refused) stop = true;
      return "failed";
    }
    if (answer.status >= 500) {
      if (!result.refused) stop = true;
      return "failed";
    }
    const code = errorCode(answer);
    if (DEVICE_REFUSALS.has(code)) {
      result.refused = result.refused || code;
      if (code === "device_token_invalid" || code === "device_token_missing") stop = true; // nothing is recorded
      return "failed";
    }
    outcomes.set(item.seq, { item, answer: answer.status === 200 ? answer.data : null, code });
    return "sent";
  }

  for (const item of items) {
    if (stop) break;
    while (running.size >= SEND_AT_ONCE) await Promise.race(running);
    const key = item.code != null ? `c:${item.code}` : `p:${item.participant_id}`;
    const sending = sendOne(item, lastOfBadge.get(key));
    lastOfBadge.set(key, sending);
    running.add(sending);
    sending.finally(() => running.delete(sending));
  }
  await Promise.all(running);

  const done = [];
  for (const item of items) {
    const outcome = outcomes.get(item.seq);
    if (!outcome) continue;
    result.sent += 1;
    result.left -= 1;
    const off = item.offline || {};
    const data = outcome.answer;
    let checkin = null;
    if (data) {
      if (off.enrolmentId && data.session && (data.accepted || data.reason === "already_checked_in")) {
        const at = Date.parse(data.accepted ? data.scanned_at : data.first_checked_in_at || data.scanned_at);
        checkin = { enrolmentId: off.enrolmentId, sessionId: data.session.id, at };
      }
      if (data.reason !== off.reason) {
        result.changes.push({ item, answer: data });
        if (ACCEPTED.has(off.reason) && !data.accepted) result.overruled.push({ nonce: item.nonce, offline_reason: off.reason });
      }
    } else {
      // Refused as a request (a clock far off, a session deleted since): nothing was stored.
      result.changes.push({ item, answer: { reason: outcome.code || "error", accepted: false } });
    }
    done.push({ item, checkin, acceptedIn: data && data.accepted && data.session ? data.session.id : null });
  }
  await settle(done);
  return result;
}

/** Remember the latest corrections for the usher to see (a reload keeps them). */
export async function keepChanges(changes) {
  if (!changes.length) return [];
  const { changes: before = [] } = await idb.getMeta(["changes"]);
  const after = changes.map(({ item, answer }) => ({
    at: item.scanned_at, offline: item.offline ? item.offline.reason : "queued", reason: answer.reason,
    name: answer.participant ? answer.participant.name : (item.offline && item.offline.name) || "",
    firstAt: answer.first_checked_in_at || null,
  })).reverse().concat(before).slice(0, CHANGES_KEPT);
  await idb.setMeta({ changes: after });
  return after;
}
