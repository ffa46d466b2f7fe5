-- Long jobs an organiser starts and follows on a page, and the file each one leaves, in parts.
-- (migrations/sqlite/0011 says the same in SQLite's syntax; read its comments first.)
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    course_id    BIGINT NOT NULL REFERENCES courses(id),
    organiser_id BIGINT NOT NULL REFERENCES organisers(id),
    stage        TEXT NOT NULL,
    done         INTEGER NOT NULL DEFAULT 0,
    total        INTEGER NOT NULL DEFAULT 0,
    error        TEXT NOT NULL DEFAULT '',
    filename     TEXT NOT NULL DEFAULT '',
    media_type   TEXT NOT NULL DEFAULT '',
    size         BIGINT NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX jobs_course ON jobs (course_id, kind, created_at);

CREATE TABLE job_parts (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    part   INTEGER NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (job_id, part)
);
