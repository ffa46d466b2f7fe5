// The scanner's offline copy of its course, and the answer it gives from that copy when the server
// cannot be reached in time. The copy comes from GET /api/v1/offline (whole, then deltas after its
// cursor) and holds, per badge, only a salted SHA-256 of the code: a lost phone gives away no badge.

import * as idb from "./offline-store.js";

const BADGE_URL = /\/b\/([A-Za-z0-9_-]{16,64})\/?$/;
const encoder = new TextEncoder();

/** The code in what was scanned: a bare code, or a badge link ending in /b/CODE (as the server reads it). */
export function badgeCode(raw) {
  const text = String(raw).trim();
  const match = BADGE_URL.exec(text);
  return match ? match[1] : text;
}

/** base64url(SHA-256(salt ":" code)[:16]): the same as checkin.door.offline.code_hash on the server. */
export async function codeHash(salt, code) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(`${salt}:${code}`)));
  let binary = "";
  for (const byte of digest.subarray(0, 16)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const pairKey = (enrolmentId, sessionId) => `${enrolmentId}:${sessionId}`;

/**
 * Fetch the copy (a delta when we hold one) with `api` (the page's fetch wrapper) and store it.
 * Resolves to the API answer ({ status, data }); throws on a network failure.
 */
export async function refresh(api, { timeoutMs = 20_000 } = {}) {
  const { cursor } = await idb.getMeta(["cursor"]);
  const path = cursor ? `/api/v1/offline?since=${encodeURIComponent(cursor)}` : "/api/v1/offline";
  const answer = await api(path, { timeoutMs });
  if (answer.status === 200) await apply(answer.data);
  return answer;
}

/** Store a copy or a delta in one transaction (a half-applied copy is never seen). */
export async function apply(copy) {
  searchIndex = null;
  const offset = Date.parse(copy.server_time) - Date.now();
  const { device } = await idb.getMeta(["device"]);
  // Paired again (another pairing, perhaps another course): what this phone admitted offline under the
  // old pairing no longer describes this copy. Its queued scans stay and go out with the phone's token.
  const otherDevice = copy.full && device && device.id !== copy.device.id;
  await idb.run(["meta", "badges", "people", "checkins", "local"], "readwrite", (tx) => {
    if (otherDevice) tx.objectStore("local").clear();
    const meta = tx.objectStore("meta");
    const badges = tx.objectStore("badges");
    const people = tx.objectStore("people");
    const checkins = tx.objectStore("checkins");
    if (copy.full) {
      badges.clear();
      people.clear();
      checkins.clear();
    }
    for (const [enrolmentId, name, unit, position] of copy.people) people.put([name, unit, position], enrolmentId);
    for (const [hash, enrolmentId, revoked] of copy.badges) badges.put([enrolmentId, revoked], hash);
    for (const [enrolmentId, sessionId, at] of copy.checkins) {
      if (at === null) checkins.delete(pairKey(enrolmentId, sessionId));
      else checkins.put(at * 1000, pairKey(enrolmentId, sessionId));
    }
    const entries = {
      cursor: copy.cursor, salt: copy.salt, course: copy.course, sessions: copy.sessions, device: copy.device,
      expiresAt: Date.parse(copy.device.expires_at), offset, fetchedAt: Date.now(),
    };
    for (const [key, val] of Object.entries(entries)) meta.put(val, key);
  });
  return offset;
}

/**
 * Note in the copy a check-in the server just accepted from this phone (found by the badge's hash, or
 * by the participant id of a search), so that it is known here before the next delta brings it.
 */
export async function noteAccepted({ code = null, participantId = null, data }) {
  if (!data || !data.accepted || !data.session) return;
  let enrolmentId = participantId;
  if (code !== null) {
    const { salt } = await idb.getMeta(["salt"]);
    if (!salt) return;
    const found = await idb.get("badges", await codeHash(salt, badgeCode(code)));
    enrolmentId = found ? found[0] : null;
  }
  if (!enrolmentId) return;
  await idb.run(["checkins"], "readwrite", (tx) => {
    tx.objectStore("checkins").put(Date.parse(data.scanned_at), pairKey(enrolmentId, data.session.id));
  });
}

const SEARCH_LIMIT = 10;
let searchIndex = null; // [folded name, enrolmentId, [name, unit, position]], rebuilt after each copy change

/** Case, space and diacritic-free, as checkin.text.fold: "Nguyễn Thị Hương" -> "nguyen thi huong". */
export function fold(text) {
  return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase()
    .replace(/\s+/g, " ").trim();
}

/**
 * The usher's name search without a network: people of the copy whose name holds every word typed
 * (diacritics and case ignored), at most 10, as the API answers it. The caller asks for 3 letters.
 */
export async function search(query) {
  const { salt } = await idb.getMeta(["salt"]);
  if (!salt) return null;
  if (!searchIndex) {
    const db = await idb.openDb();
    searchIndex = await new Promise((resolve, reject) => {
      const rows = [];
      const request = db.transaction("people").objectStore("people").openCursor();
      request.onsuccess = () => {
        const cursor = request.result;
        if (!cursor) return resolve(rows);
        rows.push([fold(cursor.value[0]), cursor.key, cursor.value]);
        cursor.continue();
      };
      request.onerror = () => reject(request.error);
    });
    searchIndex.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  }
  const words = fold(query).split(" ").filter(Boolean);
  const found = [];
  for (const [key, enrolmentId, [name, unit, position]] of searchIndex) {
    if (words.every((word) => key.includes(word))) {
      found.push({ participant_id: enrolmentId, name, unit, position });
      if (found.length >= SEARCH_LIMIT) break;
    }
  }
  return found;
}

/** The session a scan at `at` (ms) is for when the usher chose none: as rules.pick_session. */
export function pickSession(sessions, at) {
  const open = sessions.filter((s) => Date.parse(s.opens_at) <= at && at < Date.parse(s.ends_at));
  if (!open.length) return null;
  const started = open.filter((s) => Date.parse(s.starts_at) <= at);
  const order = (a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at) || a.position - b.position;
  return started.length ? started.sort(order).at(-1) : open.sort(order)[0];
}

/**
 * The door's rule, as a best-effort local copy for the minutes the server is out of reach.
 *
 * This is not a second source of truth: every scan answered here is queued and sent to the server
 * (method "sync", with the time it happened), where checkin.door.rules.decide_scan decides it again and
 * its decision is what is stored and counted. The page shows this answer marked "offline", and shows
 * afterwards where the server decided otherwise. It knows less than the server: badges of other
 * courses are not in the copy (they answer unknown_code here), and another door's offline admissions
 * are unknown until they sync.
 */
export function decideOffline({ badge, session, earlierAt, at, afterEnd }) {
  if (!badge) return "unknown_code";
  if (badge.revoked) return "badge_revoked";
  if (!session) return "no_session";
  // An earlier check-in made after this scan (clocks apart): this scan is judged on its own time.
  if (earlierAt != null && earlierAt <= at) return "already_checked_in";
  if (at < Date.parse(session.opens_at)) return "session_not_open";
  if (at >= Date.parse(session.ends_at)) return afterEnd === "late" ? "checked_in_late" : "session_closed";
  if (at > Date.parse(session.late_from)) return "checked_in_late";
  return "checked_in";
}

export const ACCEPTED = new Set(["checked_in", "checked_in_late"]);

/**
 * Answer a scanned code (or a participant id found by search) from the copy.
 * Resolves to null when there is no copy, else { reason, accepted, enrolmentId, session, person,
 * firstAt (ms) }, the same reason codes the server uses.
 */
export async function answer({ code = null, participantId = null, sessionId = null, at }) {
  const meta = await idb.getMeta(["salt", "sessions", "course"]);
  if (!meta.salt || !meta.sessions) return null;
  let badge = null;
  if (code !== null) {
    const found = await idb.get("badges", await codeHash(meta.salt, badgeCode(code)));
    if (found) badge = { enrolmentId: found[0], revoked: Boolean(found[1]) };
  } else if (participantId !== null) {
    badge = { enrolmentId: participantId, revoked: false };
  }
  const session = sessionId ? meta.sessions.find((s) => s.id === sessionId) || null : pickSession(meta.sessions, at);
  let person = null;
  let earlierAt = null;
  if (badge) {
    const key = session ? pairKey(badge.enrolmentId, session.id) : null;
    const [[row], [serverAt, local]] = await Promise.all([
      idb.getMany("people", [badge.enrolmentId]),
      key ? Promise.all([idb.get("checkins", key), idb.get("local", key)]) : Promise.resolve([undefined, undefined]),
    ]);
    if (row) person = { name: row[0], unit: row[1], position: row[2] };
    earlierAt = serverAt ?? (local ? local.at : null);
  }
  const reason = decideOffline({ badge, session, earlierAt, at, afterEnd: meta.course ? meta.course.after_end : "refuse" });
  return {
    reason, accepted: ACCEPTED.has(reason), enrolmentId: badge ? badge.enrolmentId : null, session, person,
    firstAt: reason === "already_checked_in" ? earlierAt : null,
  };
}
