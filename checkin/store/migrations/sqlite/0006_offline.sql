-- Offline scanning: what an usher's phone needs to answer at the door without a network, and what the
-- organiser sees of each phone's queue.

-- Which enrolments changed (new, renamed, moved unit, badge issued or revoked), in commit order, so a
-- phone's offline copy is refreshed with a delta. Filled by triggers rather than by the store
-- functions of the roster, badges and people (owned elsewhere): every writer is covered, today's and
-- tomorrow's. PostgreSQL has the same triggers with a function body; the table itself is portable.
CREATE TABLE roster_changes (
    id           INTEGER PRIMARY KEY,
    enrolment_id INTEGER NOT NULL
);

CREATE TRIGGER roster_changes_enrolment AFTER INSERT ON enrolments
BEGIN
    INSERT INTO roster_changes (enrolment_id) VALUES (NEW.id);
END;

CREATE TRIGGER roster_changes_participant AFTER UPDATE ON participants
BEGIN
    INSERT INTO roster_changes (enrolment_id) SELECT id FROM enrolments WHERE participant_id = NEW.id;
END;

CREATE TRIGGER roster_changes_unit AFTER UPDATE OF name ON units
BEGIN
    INSERT INTO roster_changes (enrolment_id)
    SELECT e.id FROM enrolments e JOIN participants p ON p.id = e.participant_id WHERE p.unit_id = NEW.id;
END;

CREATE TRIGGER roster_changes_badge_issued AFTER INSERT ON badges
BEGIN
    INSERT INTO roster_changes (enrolment_id) VALUES (NEW.enrolment_id);
END;

CREATE TRIGGER roster_changes_badge_changed AFTER UPDATE ON badges
BEGIN
    INSERT INTO roster_changes (enrolment_id) VALUES (NEW.enrolment_id);
END;

-- What each phone last reported about its offline queue (one row per device, replaced on each report).
CREATE TABLE device_sync_states (
    device_id        INTEGER PRIMARY KEY REFERENCES devices(id),
    queued           INTEGER NOT NULL DEFAULT 0,   -- scans waiting on the phone
    oldest_queued_at TEXT,                         -- the device time of the oldest of them
    last_sync_at     TEXT,                         -- when the phone last emptied its queue to us
    copy_fetched_at  TEXT,                         -- when it last fetched its offline copy
    reported_at      TEXT                          -- its last report
);

-- Scans a phone admitted offline that the server, at sync, judged otherwise (reported by the phone,
-- which alone knows what it showed). With the scan (device_id, nonce) they show double admissions.
CREATE TABLE offline_overrules (
    device_id      INTEGER NOT NULL REFERENCES devices(id),
    nonce          TEXT NOT NULL,
    offline_reason TEXT NOT NULL,
    reported_at    TEXT NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
