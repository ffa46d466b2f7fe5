-- Certificates of attendance. The verification code is random (no personal data in it) and printed on
-- the certificate; the public page /verify/{code} confirms it. One certificate per enrolment: issuing
-- again keeps the code and refreshes what it states.
CREATE TABLE certificates (
    id                INTEGER PRIMARY KEY,
    code              TEXT NOT NULL UNIQUE,
    course_id         INTEGER NOT NULL REFERENCES courses(id),
    enrolment_id      INTEGER NOT NULL UNIQUE REFERENCES enrolments(id),
    full_name         TEXT NOT NULL,             -- as printed, so a later roster edit cannot change a paper
    unit              TEXT NOT NULL DEFAULT '',
    sessions_attended INTEGER NOT NULL,
    sessions_total    INTEGER NOT NULL,
    issued_at         TEXT NOT NULL,
    revoked_at        TEXT                       -- set when the person no longer qualifies (an undone scan)
);
CREATE INDEX certificates_course ON certificates (course_id);
