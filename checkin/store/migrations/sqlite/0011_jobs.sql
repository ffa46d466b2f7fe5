-- Long jobs an organiser starts and follows on a page (issuing and drawing certificates). Their state lives
-- here, not in the memory of the server process that runs them, so that any server sharing this database
-- answers "how far is it" and hands over the result.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,              -- random and unguessable: it is in the job's address
    kind         TEXT NOT NULL,                 -- 'certificates'
    course_id    INTEGER NOT NULL REFERENCES courses(id),
    organiser_id INTEGER NOT NULL REFERENCES organisers(id),
    stage        TEXT NOT NULL,                 -- e.g. 'issuing', 'drawing', 'saving'; then 'done' or 'failed'
    done         INTEGER NOT NULL DEFAULT 0,    -- how far the stage is, of total
    total        INTEGER NOT NULL DEFAULT 0,
    error        TEXT NOT NULL DEFAULT '',
    filename     TEXT NOT NULL DEFAULT '',      -- the result's, once done
    media_type   TEXT NOT NULL DEFAULT '',
    size         INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL                  -- the last sign of life: a job silent for long was cut short
);
CREATE INDEX jobs_course ON jobs (course_id, kind, created_at);

-- A finished job's file, in parts of at most 512 kB, each written in its own short transaction (a PDF of
-- 20,000 certificates is some 50 MB: one write of it would hold the door's writer for a long moment).
CREATE TABLE job_parts (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    part   INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (job_id, part)
);
