-- The organiser's workspace: roster uploads waiting for confirmation, and walk-in substitutes.

-- A roster upload between preview and confirm. The file itself is kept (never the parsed rows in a
-- form field), tied to the organiser who uploaded it and to the course, and expires; confirm parses
-- the same bytes again and deletes the row.
CREATE TABLE pending_imports (
    id           TEXT PRIMARY KEY,              -- random and unguessable
    course_id    BIGINT NOT NULL REFERENCES courses(id),
    organiser_id BIGINT NOT NULL REFERENCES organisers(id),
    filename     TEXT NOT NULL,
    data         BYTEA NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
CREATE INDEX pending_imports_expiry ON pending_imports (expires_at);

-- A substitute sent by a unit in place of an enrolled cadre (registered at the door).
CREATE TABLE substitutions (
    enrolment_id          BIGINT PRIMARY KEY REFERENCES enrolments(id),
    replaces_enrolment_id BIGINT NOT NULL REFERENCES enrolments(id),
    created_at            TEXT NOT NULL
);
CREATE INDEX substitutions_replaces ON substitutions (replaces_enrolment_id);

-- The person page lists the corrections made about one person.
CREATE INDEX audit_subject ON audit_log (course_id, subject);
