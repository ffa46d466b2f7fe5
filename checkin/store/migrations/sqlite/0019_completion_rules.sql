-- Completing a course (issue 14): exit scans, time present per session, and the course's completion rule.

-- An exit scan ("Ra về / Leaving") records when a person left a session they were checked in to. left_early:
-- the time present fell below the session's minimum share (reports show the status left_early). The stored
-- status stays present / late, so a check-in still counts as the check-in at the door.
ALTER TABLE attendance ADD COLUMN checked_out_at TEXT;
ALTER TABLE attendance ADD COLUMN checkout_scan_id INTEGER REFERENCES scans(id);
ALTER TABLE attendance ADD COLUMN left_early INTEGER NOT NULL DEFAULT 0;

-- One row per course that set its rule (no row: the defaults below, exit scans off, all sessions needed).
CREATE TABLE completion_rules (
    course_id          INTEGER PRIMARY KEY REFERENCES courses(id),
    exit_scans         INTEGER NOT NULL DEFAULT 0,
    min_present_pct    INTEGER NOT NULL DEFAULT 75 CHECK (min_present_pct BETWEEN 0 AND 100),
    min_sessions       INTEGER,                  -- N of M sessions present; NULL: all of them
    late_counts        INTEGER NOT NULL DEFAULT 1,
    require_feedback   INTEGER NOT NULL DEFAULT 0,
    require_reflection INTEGER NOT NULL DEFAULT 0,
    feedback_named     INTEGER NOT NULL DEFAULT 0,   -- 0: feedback is anonymous
    reflection_deadline TEXT,                        -- NULL: no deadline
    storage_limit_mb   INTEGER NOT NULL DEFAULT 500, -- uploaded reflections, per course
    updated_at         TEXT NOT NULL
);

-- A session's own choice, over the course's (NULL: the course's).
CREATE TABLE session_rules (
    session_id      INTEGER PRIMARY KEY REFERENCES sessions(id),
    exit_scans      INTEGER,
    min_present_pct INTEGER CHECK (min_present_pct BETWEEN 0 AND 100),
    speaker         TEXT NOT NULL DEFAULT ''        -- for the feedback results per speaker
);

-- Feedback per session: what was said (without who, when the course keeps it anonymous) ...
CREATE TABLE feedback (
    id             INTEGER PRIMARY KEY,
    course_id      INTEGER NOT NULL REFERENCES courses(id),
    session_id     INTEGER NOT NULL REFERENCES sessions(id),
    enrolment_id   INTEGER REFERENCES enrolments(id),   -- NULL: anonymous
    content_rating INTEGER NOT NULL CHECK (content_rating BETWEEN 1 AND 5),
    speaker_rating INTEGER NOT NULL CHECK (speaker_rating BETWEEN 1 AND 5),
    comment        TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL
);
CREATE INDEX feedback_session ON feedback (session_id);
-- ... and who gave theirs: once per person and session, anonymous or not.
CREATE TABLE feedback_given (
    enrolment_id INTEGER NOT NULL REFERENCES enrolments(id),
    session_id   INTEGER NOT NULL REFERENCES sessions(id),
    given_at     TEXT NOT NULL,
    PRIMARY KEY (enrolment_id, session_id)
);

-- The written reflection ("bài thu hoạch"): one per enrolment, text or an uploaded file (kept in parts here,
-- never under the web root), reviewed by an organiser.
CREATE TABLE reflections (
    id             INTEGER PRIMARY KEY,
    course_id      INTEGER NOT NULL REFERENCES courses(id),
    enrolment_id   INTEGER NOT NULL UNIQUE REFERENCES enrolments(id),
    state          TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'accepted', 'returned')),
    draft          TEXT NOT NULL DEFAULT '',         -- saved as the cadre types
    body           TEXT NOT NULL DEFAULT '',         -- as submitted
    file_name      TEXT NOT NULL DEFAULT '',
    file_type      TEXT NOT NULL DEFAULT '',         -- as found in the content, not as claimed
    file_size      INTEGER NOT NULL DEFAULT 0,
    review_comment TEXT NOT NULL DEFAULT '',
    reviewed_by    INTEGER REFERENCES organisers(id),
    submitted_at   TEXT,
    reviewed_at    TEXT,
    updated_at     TEXT NOT NULL
);
CREATE INDEX reflections_course ON reflections (course_id, state);
CREATE TABLE reflection_parts (
    reflection_id INTEGER NOT NULL REFERENCES reflections(id),
    part          INTEGER NOT NULL,
    data          BLOB NOT NULL,
    PRIMARY KEY (reflection_id, part)
);
