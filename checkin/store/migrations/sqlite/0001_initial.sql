-- The check-in core. Portable SQL: INTEGER PRIMARY KEY ids, TEXT times in UTC ISO 8601,
-- no SQLite-only types, so a PostgreSQL store can apply the same shapes.

CREATE TABLE organisers (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

CREATE TABLE courses (
    id               INTEGER PRIMARY KEY,
    title            TEXT NOT NULL,
    course_date      TEXT NOT NULL,             -- YYYY-MM-DD in the course's time zone
    venue            TEXT NOT NULL DEFAULT '',
    organiser_name   TEXT NOT NULL DEFAULT '',  -- the organising body, as printed
    time_zone        TEXT NOT NULL,
    open_before_min  INTEGER NOT NULL DEFAULT 30,
    late_after_min   INTEGER NOT NULL DEFAULT 10,
    after_end        TEXT NOT NULL DEFAULT 'refuse' CHECK (after_end IN ('refuse', 'late')),
    min_sessions_for_certificate INTEGER,       -- NULL: all sessions
    archived_at      TEXT,
    created_at       TEXT NOT NULL
);

CREATE TABLE course_organisers (
    course_id    INTEGER NOT NULL REFERENCES courses(id),
    organiser_id INTEGER NOT NULL REFERENCES organisers(id),
    PRIMARY KEY (course_id, organiser_id)
);

CREATE TABLE sessions (
    id              INTEGER PRIMARY KEY,
    course_id       INTEGER NOT NULL REFERENCES courses(id),
    position        INTEGER NOT NULL,
    title           TEXT NOT NULL,
    starts_at       TEXT NOT NULL,
    ends_at         TEXT NOT NULL,
    open_before_min INTEGER,                    -- NULL: the course's default
    late_after_min  INTEGER,
    CHECK (ends_at > starts_at)
);
CREATE INDEX sessions_course ON sessions (course_id, position);

CREATE TABLE units (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE               -- case, space and diacritic-free: one unit per spelling
);

CREATE TABLE participants (
    id          INTEGER PRIMARY KEY,
    full_name   TEXT NOT NULL,                  -- NFC
    name_key    TEXT NOT NULL,                  -- diacritic-free, for search
    unit_id     INTEGER REFERENCES units(id),
    position    TEXT NOT NULL DEFAULT '',
    phone       TEXT NOT NULL DEFAULT '',
    email       TEXT NOT NULL DEFAULT '',
    member_code TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX participants_unit ON participants (unit_id);

CREATE TABLE enrolments (
    id             INTEGER PRIMARY KEY,
    course_id      INTEGER NOT NULL REFERENCES courses(id),
    participant_id INTEGER NOT NULL REFERENCES participants(id),
    created_at     TEXT NOT NULL,
    UNIQUE (course_id, participant_id)
);
CREATE INDEX enrolments_course ON enrolments (course_id);

-- A badge code is a bearer secret: random, no personal data. Re-issuing revokes the old code,
-- which stays here so that scanning it says badge_revoked rather than unknown_code.
CREATE TABLE badges (
    code         TEXT PRIMARY KEY,
    enrolment_id INTEGER NOT NULL REFERENCES enrolments(id),
    issued_at    TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX badges_enrolment ON badges (enrolment_id);

CREATE TABLE devices (
    id           INTEGER PRIMARY KEY,
    course_id    INTEGER NOT NULL REFERENCES courses(id),
    label        TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,          -- sha256 of the bearer token; the token itself is never stored
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_seen_at TEXT
);

-- Every scan attempt, accepted or refused. Append-only.
CREATE TABLE scans (
    id            INTEGER PRIMARY KEY,
    course_id     INTEGER NOT NULL REFERENCES courses(id),
    session_id    INTEGER REFERENCES sessions(id),
    device_id     INTEGER REFERENCES devices(id),
    organiser_id  INTEGER REFERENCES organisers(id),
    enrolment_id  INTEGER REFERENCES enrolments(id),
    code          TEXT NOT NULL,                -- what was seen (truncated), or the badge found by search
    method        TEXT NOT NULL,                -- camera | search | api | sync | manual | paper
    reason        TEXT NOT NULL,
    accepted      INTEGER NOT NULL,
    first_scan_id INTEGER REFERENCES scans(id), -- for already_checked_in: the scan that counts
    nonce         TEXT,
    scanned_at    TEXT NOT NULL,                -- the device's time (or the server's when none was sent)
    recorded_at   TEXT NOT NULL,
    note          TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX scans_device_nonce ON scans (device_id, nonce) WHERE nonce IS NOT NULL;
CREATE INDEX scans_course ON scans (course_id, id);
CREATE INDEX scans_enrolment ON scans (enrolment_id, session_id);

-- Undoing an accepted scan is recorded, never a delete of the scan.
CREATE TABLE scan_undos (
    id           INTEGER PRIMARY KEY,
    scan_id      INTEGER NOT NULL UNIQUE REFERENCES scans(id),
    device_id    INTEGER REFERENCES devices(id),
    organiser_id INTEGER REFERENCES organisers(id),
    reason       TEXT NOT NULL DEFAULT '',
    undone_at    TEXT NOT NULL
);

-- Derived from scans (and organisers' excusals): one row per participant and session that
-- has an accepted scan or an excuse. 'absent' is never stored: it is the lack of a row once
-- the session is over. The primary key is what makes a concurrent double check-in impossible.
CREATE TABLE attendance (
    enrolment_id  INTEGER NOT NULL REFERENCES enrolments(id),
    session_id    INTEGER NOT NULL REFERENCES sessions(id),
    status        TEXT NOT NULL CHECK (status IN ('present', 'late', 'excused')),
    scan_id       INTEGER REFERENCES scans(id),
    checked_in_at TEXT,
    note          TEXT NOT NULL DEFAULT '',
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (enrolment_id, session_id)
);
CREATE INDEX attendance_session ON attendance (session_id);

-- Who changed what by hand, and why.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    course_id    INTEGER REFERENCES courses(id),
    organiser_id INTEGER REFERENCES organisers(id),
    device_id    INTEGER REFERENCES devices(id),
    action       TEXT NOT NULL,
    subject      TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT '',
    at           TEXT NOT NULL
);
CREATE INDEX audit_course ON audit_log (course_id, id);

-- What live views are told, written in the same transaction as the change it describes, so
-- a client reconnecting with Last-Event-ID gets exactly what it missed, in order.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    course_id INTEGER NOT NULL REFERENCES courses(id),
    kind      TEXT NOT NULL,
    payload   TEXT NOT NULL,                    -- JSON
    at        TEXT NOT NULL
);
CREATE INDEX events_course ON events (course_id, id);
