-- Member units ("cơ sở Đoàn trực thuộc"): a directory per organising body, kept across courses; the summons of a
-- course (which units are invited, how many cadres each sends, until when); the unit's private link; the cadres a
-- unit nominates; substitutions ("thay người") after the deadline; and each unit's mail.

CREATE TABLE member_units (
    id            INTEGER PRIMARY KEY,
    body_id       INTEGER NOT NULL REFERENCES bodies(id),
    name          TEXT NOT NULL,                -- as the body writes it, NFC
    name_key      TEXT NOT NULL,                -- text.unit_key(name): one entry per spelling in a body
    short_name    TEXT NOT NULL DEFAULT '',
    contact_name  TEXT NOT NULL DEFAULT '',     -- the unit's secretary
    contact_phone TEXT NOT NULL DEFAULT '',
    contact_email TEXT NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (body_id, name_key)
);

-- A spelling that rosters use (units) tied to a directory entry by an organiser: never merged silently.
-- member_unit_id NULL: the organiser said this spelling is none of the directory's units.
CREATE TABLE unit_spellings (
    body_id        INTEGER NOT NULL REFERENCES bodies(id),
    unit_id        INTEGER NOT NULL REFERENCES units(id),
    member_unit_id INTEGER REFERENCES member_units(id),
    organiser_id   INTEGER REFERENCES organisers(id),
    decided_at     TEXT NOT NULL,
    PRIMARY KEY (body_id, unit_id)
);

-- A course's summons: the nomination deadline and the course's unit settings.
CREATE TABLE summonses (
    course_id     INTEGER PRIMARY KEY REFERENCES courses(id),
    deadline      TEXT,                         -- UTC; NULL: none yet
    group_checkin INTEGER NOT NULL DEFAULT 0,   -- ushers may check a unit in by its leader's badge
    results_published_at TEXT,                  -- units may download their result notice
    updated_at    TEXT NOT NULL
);

-- One invited unit of a course.
CREATE TABLE summoned_units (
    id              INTEGER PRIMARY KEY,
    course_id       INTEGER NOT NULL REFERENCES courses(id),
    member_unit_id  INTEGER NOT NULL REFERENCES member_units(id),
    quota           INTEGER NOT NULL CHECK (quota >= 0),
    positions       TEXT NOT NULL DEFAULT '',   -- "Bí thư, Phó Bí thư, 01 Ủy viên BTV"
    invited_at      TEXT NOT NULL,
    withdrawn_at    TEXT,                       -- no longer invited (its nominees stay on record)
    first_opened_at TEXT,                       -- the unit's link, first and last opened
    last_opened_at  TEXT,
    confirmed_at    TEXT,                       -- the unit confirmed its list (NULL again when it changes it)
    last_change_at  TEXT,
    leader_nominee_id INTEGER,                  -- for group check-in: the nominee whose badge checks the unit in
    UNIQUE (course_id, member_unit_id)
);
CREATE INDEX summoned_units_member ON summoned_units (member_unit_id);

-- The unit's private link for one course: a bearer secret. The secret is HMAC(server key, salt) and is never
-- stored; secret_hash finds the row. Revoking keeps the row so that the old link says "revoked".
CREATE TABLE unit_links (
    id               INTEGER PRIMARY KEY,
    summoned_unit_id INTEGER NOT NULL REFERENCES summoned_units(id),
    salt             TEXT NOT NULL,
    secret_hash      TEXT NOT NULL UNIQUE,
    created_at       TEXT NOT NULL,
    revoked_at       TEXT
);
CREATE INDEX unit_links_unit ON unit_links (summoned_unit_id);

-- The cadres a unit nominates. A draft has no enrolment; confirming enrols it (people.enrol, with a badge).
CREATE TABLE nominees (
    id               INTEGER PRIMARY KEY,
    summoned_unit_id INTEGER NOT NULL REFERENCES summoned_units(id),
    full_name        TEXT NOT NULL,
    position         TEXT NOT NULL DEFAULT '',
    phone            TEXT NOT NULL DEFAULT '',
    email            TEXT NOT NULL DEFAULT '',
    member_code      TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL CHECK (state IN ('draft', 'enrolled', 'replaced')),
    enrolment_id     INTEGER UNIQUE REFERENCES enrolments(id),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX nominees_unit ON nominees (summoned_unit_id, id);

-- "Thay người": who replaces whom and why, proposed by the unit (or made by it before the deadline), decided by an
-- organiser. When approved, the new person is enrolled and `substitutions` (0002) records the enrolment it replaces.
CREATE TABLE unit_substitutions (
    id               INTEGER PRIMARY KEY,
    summoned_unit_id INTEGER NOT NULL REFERENCES summoned_units(id),
    old_nominee_id   INTEGER NOT NULL REFERENCES nominees(id),
    new_nominee_id   INTEGER REFERENCES nominees(id),  -- set when approved
    full_name        TEXT NOT NULL,
    position         TEXT NOT NULL DEFAULT '',
    phone            TEXT NOT NULL DEFAULT '',
    email            TEXT NOT NULL DEFAULT '',
    member_code      TEXT NOT NULL DEFAULT '',
    reason           TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL CHECK (state IN ('proposed', 'approved', 'refused')),
    proposed_at      TEXT NOT NULL,
    decided_at       TEXT,
    organiser_id     INTEGER REFERENCES organisers(id),  -- who decided; NULL with a decision: the unit, before the deadline
    note             TEXT NOT NULL DEFAULT ''
);
CREATE INDEX unit_substitutions_unit ON unit_substitutions (summoned_unit_id, id);

-- Each time a unit's link went out (by e-mail, or copied for Zalo), and how it went.
CREATE TABLE unit_mailings (
    id               INTEGER PRIMARY KEY,
    summoned_unit_id INTEGER NOT NULL REFERENCES summoned_units(id),
    kind             TEXT NOT NULL CHECK (kind IN ('link', 'reminder', 'zalo')),
    address          TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL CHECK (status IN ('sent', 'failed', 'copied')),
    reason           TEXT NOT NULL DEFAULT '',
    organiser_id     INTEGER REFERENCES organisers(id),
    at               TEXT NOT NULL
);
CREATE INDEX unit_mailings_unit ON unit_mailings (summoned_unit_id, id);

-- Group check-in: the scan (method 'group') and the leader whose badge was shown.
CREATE TABLE group_checkins (
    scan_id             INTEGER PRIMARY KEY REFERENCES scans(id),
    leader_enrolment_id INTEGER NOT NULL REFERENCES enrolments(id)
);
